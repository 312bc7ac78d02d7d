"""Helpers of the GUI tests: real drops of file URLs, waiting for fusion, test volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from harvard_data import HARVARD, TASK_FOLDERS  # noqa: F401 (tests import HARVARD from here)

WAIT_MS = 120_000  # generous: the 2-core CI machine is shared


def set_method(win, name: str) -> None:
    combo = win.pipeline.method
    combo.setCurrentIndex(combo.findData(name))
    assert combo.currentData() == name



def drop_files(target, paths) -> None:
    """Deliver a real drag-enter + drop of file URLs to a widget (as the desktop would)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()



def fuse_dropped(qtbot, win, paths, target=None) -> object:
    """Drop files, wait for the automatic fusion and its metrics; returns the result."""
    with qtbot.waitSignal(win.controller.metricsFinished, timeout=WAIT_MS):
        with qtbot.waitSignal(win.controller.fusionFinished, timeout=WAIT_MS):
            drop_files(target or win, paths)
    return win.doc.result



def stacked_volume(folder: Path, task: str, which: int, n: int, name: str) -> Path:
    """A NIfTI volume of n Harvard slices (image a or b of a task, gray), written into folder."""
    import SimpleITK as sitk
    from PIL import Image as PILImage

    src = HARVARD / task / TASK_FOLDERS[task][which]
    paths = sorted(src.glob("*.png"))
    slices = [np.asarray(PILImage.open(paths[i % len(paths)]).convert("L")) for i in range(n)]
    img = sitk.GetImageFromArray(np.stack(slices).astype(np.uint8))
    img.SetSpacing((1.0, 1.0, 2.0))
    out = folder / name
    sitk.WriteImage(img, str(out))
    return out


def batch_folders(tmp_path: Path, names=("2010.png", "2011.png")) -> tuple[Path, Path, Path]:
    """(ct folder, mri folder, output folder) holding the named Harvard CT-MRI pairs."""
    import shutil

    a, b, out = tmp_path / "ct", tmp_path / "mri", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    for name in names:
        shutil.copy(HARVARD / "ct-mri" / "ct" / name, a / name)
        shutil.copy(HARVARD / "ct-mri" / "mri" / name, b / name)
    return a, b, out
