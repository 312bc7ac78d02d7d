"""The GUI goes through fusionviewer.pipeline: same metrics as the CLI, the pipeline's block
sizes, stale results after a modality or option change, one task helper, one export check."""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np

from gui_helpers import HARVARD, WAIT_MS, batch_folders, drop_files, fuse_dropped, set_method

from fusionviewer.errors import Cancelled, InputError
from fusionviewer.paths import samples_dir

CT = HARVARD / "ct-mri" / "ct" / "2010.png"
PET = HARVARD / "pet-mri" / "pet" / "25015.png"
DICOM_CT = samples_dir() / "dicom" / "ct-mri-34" / "ct"


def _cli(capsys, *argv) -> tuple[int, str, str]:
    from fusionviewer.cli import main

    capsys.readouterr()
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_and_gui_give_the_same_metrics(qtbot, window, tmp_path, capsys):
    code, out, _err = _cli(capsys, "fuse", CT, PET, "-o", tmp_path / "cli.png", "--modality",
                           "CT,PET", "--method", "gff", "--metrics", "--no-progress")
    assert code == 0
    cli = json.loads(out[out.index("{"):])
    set_method(window, "gff")
    fuse_dropped(qtbot, window, [CT, PET])
    assert [s.image.modality for s in window.doc.loaded()] == ["CT", "PT"]
    gui = window.doc.metrics
    assert window.doc.result.method == "gff" and window.doc.metrics_slice == 0
    assert sorted(gui) == sorted(cli) and len(cli) > 10
    for key, value in cli.items():
        assert math.isclose(gui[key], value, rel_tol=0, abs_tol=1e-9) or \
            (math.isnan(value) and math.isnan(gui[key])), key
    assert window.metrics.tree.topLevelItemCount() > 0  # shown as returned, no alias keys
    shown = [r[1] for r in window.metrics.rows()]
    assert sorted(shown) == sorted(cli)


def test_gui_block_size_512_works(qtbot, window, ct_mri_pair):
    from fusionviewer.pipeline import BLOCK_SIZES

    block = window.pipeline.block
    assert [block.itemData(i) for i in range(block.count())] == [None, *BLOCK_SIZES]
    assert block.itemText(0) == "Automatic"
    block.setCurrentIndex(block.findData(512))
    set_method(window, "cnn")
    assert window.doc.options.block_size == 512 and window.doc.options.method == "cnn"
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    assert window.dialogs == []
    assert result.options.block_size == 512 and result.fused.shape == (1, 256, 256)
    assert window.doc.result_is_current() and window.doc.metrics


def test_modality_change_makes_the_result_stale(qtbot, window, ct_mri_pair):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    doc, viewer = window.doc, window.viewer
    assert doc.result_is_current() and doc.fused_layer() is not None
    assert viewer.fused_view().image_item.image is not None
    slot = window.sources.slots[1]
    index = slot.modality.findData("PT")
    slot.modality.setCurrentIndex(index)
    slot.modality.activated.emit(index)  # the user picks PET for source B
    assert doc.sources[1].image.modality == "PT"
    assert not doc.result_is_current() and doc.result is result
    assert doc.fused_layer() is None  # the views show the sources, not the old fused image
    assert viewer.fused_view().image_item.image is None
    assert window.metrics.rows() == [] and window.metrics.tree.topLevelItemCount() == 0
    for i in range(2):
        np.testing.assert_array_equal(viewer.views[i].image_item.image,
                                      doc.sources[i].image.array[0])
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        window.controller.run_fusion()
    assert doc.result_is_current() and doc.result.inputs[1].modality == "PT"
    set_method(window, "gff")  # other options: stale too, still shown but marked
    assert doc.options.method == "gff" and not doc.result_is_current()
    assert doc.fused_layer() is not None and "run again" in viewer.fused_view().title.text()
    set_method(window, "average")
    assert doc.result_is_current() and "run again" not in viewer.fused_view().title.text()


def test_task_runner_routes_progress_cancel_and_failure(qtbot):
    from fusionviewer.gui.workers import TaskRunner

    runner = TaskRunner(max_threads=2)
    seen: list = []

    def work(n, *, progress=None, cancel=None):
        for i in range(n):
            progress("fusing", (i + 1) / n)
            time.sleep(0.07)
        return n

    def slow(*, cancel=None):
        while not cancel.is_set():
            time.sleep(0.01)
        raise Cancelled("cancelled by the user")

    def bad(path):
        raise InputError("broken image", path)

    record = {name: (lambda *a, name=name: seen.append((name, *a)))
              for name in ("progress", "finished", "failed", "cancelled", "done")}

    def finish(task):  # the task may be done before a waitSignal could connect
        qtbot.waitUntil(lambda: ("done",) in seen, timeout=WAIT_MS)
        return task

    finish(runner.start(work, 3, name="fusing", **record))
    assert [s for s in seen if s[0] == "progress"][-1] == ("progress", "fusing", 1.0)
    assert seen[-2:] == [("finished", 3), ("done",)]

    seen.clear()
    task = runner.start(slow, **record)
    task.cancel()
    finish(task)
    assert seen == [("cancelled",), ("done",)]

    seen.clear()
    finish(runner.start(bad, "x.png", **record))
    assert [s[0] for s in seen] == ["failed", "done"]
    assert isinstance(seen[0][1], InputError) and str(seen[0][1]) == "x.png: broken image"

    seen.clear()  # a plain function: no progress/cancel arguments passed
    finish(runner.start(lambda a, b: a + b, 2, 3, **record))
    assert seen == [("finished", 5), ("done",)]

    threads = []  # the callbacks run on the GUI thread
    runner.start(lambda: 1, finished=lambda _v: threads.append(threading.current_thread()))
    qtbot.waitUntil(lambda: bool(threads), timeout=WAIT_MS)
    assert threads == [threading.main_thread()]

    seen.clear()  # after close() late signals are ignored
    task = runner.start(slow, **record)
    assert runner.close(10_000) and task.token.is_set()
    qtbot.waitUntil(lambda: runner.tasks == [], timeout=WAIT_MS)
    qtbot.wait(100)
    assert seen == []


def test_batch_and_pacs_dialogs_use_the_task_runner(qtbot, window, tmp_path, monkeypatch):
    from fusionviewer.gui import workers
    from fusionviewer.gui.pacs_dialog import PacsDialog
    from fusionviewer.pacs import PacsServer

    started = []
    real_start = workers.TaskRunner.start

    def spy(self, fn, *args, **kwargs):
        started.append((self.parent(), kwargs.get("name")))
        return real_start(self, fn, *args, **kwargs)

    monkeypatch.setattr(workers.TaskRunner, "start", spy)
    a, b, out = batch_folders(tmp_path)
    set_method(window, "average")
    dialog = window.batch_dialog()
    qtbot.addWidget(dialog)
    dialog.set_folders([str(a), str(b)], str(out))
    with qtbot.waitSignal(dialog.finished_rows, timeout=WAIT_MS):
        assert dialog.start()
    assert (dialog, "batch") in started
    assert [(r.name, r.status, r.method) for r in dialog.rows] == \
        [("2010.png", "ok", "average"), ("2011.png", "ok", "average")]
    assert dialog.table.rowCount() == 2
    assert [dialog.table.item(i, 1).text() for i in range(2)] == ["ok", "ok"]
    assert dialog.table.item(1, 4).text() == str(out / "2011.png")
    qtbot.waitUntil(lambda: dialog.task is None, timeout=WAIT_MS)

    pacs = PacsDialog(window, window.settings)
    qtbot.addWidget(pacs)
    pacs.add_server(PacsServer(name="nowhere", transport="dicomweb",
                               url="http://127.0.0.1:9/dicom-web", timeout=5.0))
    with qtbot.waitSignal(pacs.failed, timeout=WAIT_MS) as blocker:
        assert pacs.echo() is not None
    assert (pacs, "Testing connection") in started
    assert pacs.status.text() == f"Error: {blocker.args[0]}" and pacs.task is None


def test_export_dialog_refuses_sources_with_the_cli_message(qtbot, window, capsys, dialogs):
    from fusionviewer.gui.export_dialog import ExportDialog, default_export_dir

    window.pipeline.auto_run.setChecked(False)
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        drop_files(window, [CT, DICOM_CT])  # a PNG file and a DICOM series folder
    assert window.doc.sources[1].image.provenance.series_instance_uid
    window.settings.setValue("export/dir", str(DICOM_CT))  # never the default either
    default = default_export_dir(window.doc, window.settings)
    assert default != DICOM_CT.resolve() and DICOM_CT.resolve() not in default.parents
    dialog = ExportDialog(window.doc, window.settings, window, kind="png")
    qtbot.addWidget(dialog)
    for target in (CT, DICOM_CT / "fused.png"):
        code, _out, err = _cli(capsys, "fuse", CT, DICOM_CT, "-o", target, "--no-progress")
        assert code == 2
        cli_message = err.strip().removeprefix("fusionviewer: error: ")
        assert "refusing to write" in cli_message
        dialog.path_edit.setText(str(target))
        dialog._accept()
        assert dialog.path is None and dialogs[-1][0] == "warning"
        assert dialogs[-1][2] == cli_message
    assert not (DICOM_CT / "fused.png").exists()


def test_pipeline_panel_shows_the_auto_decision(qtbot, window):
    """Registration defaults to automatic; after fusing the bundled DICOM CT + MR (one Frame of
    Reference) the panel says identity and why; a PNG pair says pixel grids."""
    panel = window.pipeline
    assert panel.registration.currentData() == "auto" and window.doc.options.register == "auto"
    set_method(window, "average")
    fuse_dropped(qtbot, window, [DICOM_CT, DICOM_CT.parent / "mr"])
    text = panel.decision.text()
    assert "identity in patient coordinates" in text and "share DICOM Frame of Reference" in text
    fuse_dropped(qtbot, window, [CT, HARVARD / "ct-mri" / "mri" / "2010.png"])
    assert "pixel grids" in panel.decision.text()
