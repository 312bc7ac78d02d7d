"""GUI fixtures: an offscreen main window with settings in tmp and QMessageBox recorded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gui_helpers import stacked_volume  # noqa: E402


@pytest.fixture
def settings_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "settings"
    folder.mkdir()
    monkeypatch.setenv("FUSIONVIEWER_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture
def dialogs(monkeypatch) -> list:
    """Every QMessageBox call is recorded as (kind, title, text) instead of blocking."""
    calls: list = []

    def recorder(kind, answer):
        def _record(parent, title, text, *args, **kwargs):
            calls.append((kind, title, text))
            return answer
        return staticmethod(_record)

    ok, yes = QMessageBox.StandardButton.Ok, QMessageBox.StandardButton.Yes
    for kind, answer in (("warning", ok), ("critical", ok), ("information", ok), ("question", yes)):
        monkeypatch.setattr(QMessageBox, kind, recorder(kind, answer))
    return calls


@pytest.fixture
def window(qtbot, settings_dir, dialogs):
    from fusionviewer.gui.app import create_window

    win = create_window()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.dialogs = dialogs
    yield win
    win.controller.shutdown(30_000)
    win.close()


@pytest.fixture
def ct_mri_volumes(tmp_path) -> tuple[Path, Path]:
    return (stacked_volume(tmp_path, "ct-mri", 0, 12, "ct.nii.gz"),
            stacked_volume(tmp_path, "ct-mri", 1, 12, "mri.nii.gz"))
