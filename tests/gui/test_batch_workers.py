"""The batch dialog offers local Dask workers; with two, the pairs run in worker processes."""

from __future__ import annotations

import os
import shutil
import socket

from gui_helpers import HARVARD, WAIT_MS, set_method


def test_batch_dialog_runs_on_two_local_workers(qtbot, window, tmp_path):
    a, b, out = tmp_path / "ct", tmp_path / "mri", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    for name in ("2010.png", "2011.png", "2012.png"):
        shutil.copy(HARVARD / "ct-mri" / "ct" / name, a / name)
        shutil.copy(HARVARD / "ct-mri" / "mri" / name, b / name)
    (a / "2013.png").write_bytes(b"not an image")
    (b / "2013.png").write_bytes(b"not an image either")
    set_method(window, "average")
    dialog = window.batch_dialog()
    qtbot.addWidget(dialog)
    assert dialog.workers.isEnabled() and dialog.workers.value() == 0  # default: in the app
    assert dialog.workers.maximum() == os.cpu_count()
    dialog.workers.setValue(2)
    dialog.set_folders([str(a), str(b)], str(out))
    with qtbot.waitSignal(dialog.finished_rows, timeout=WAIT_MS):
        assert dialog.start()
    status = {r.name: r.status for r in dialog.rows}
    assert status == {"2010.png": "ok", "2011.png": "ok", "2012.png": "ok", "2013.png": "failed"}
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert all(r.worker and r.worker != here for r in dialog.rows)  # fused in worker processes
    assert "3 fused, 1 failed, 0 skipped" in dialog.summary.text()
    assert all((out / n).is_file() for n in ("2010.png", "2011.png", "2012.png"))
