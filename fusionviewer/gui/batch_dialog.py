"""Batch dialog: folders of matched files -> output folder, in this process or on local Dask
workers, with progress and a summary table."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QListWidget, QMessageBox, QProgressBar,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from ..pipeline import STAGES, run_batch
from .workers import Task, TaskRunner

COLUMNS = ["Name", "Status", "Method", "Seconds", "Output / problem"]


def dask_available() -> bool:
    """Whether local workers can be offered (Dask's distributed engine is installed)."""
    return importlib.util.find_spec("distributed") is not None


class BatchDialog(QDialog):
    """Runs pipeline.run_batch with ``doc.options`` in a worker; ``rows`` holds the BatchRows
    when it is done (a failing pair is a row, not an exception)."""

    finished_rows = Signal(object)  # the BatchRows of a completed run

    def __init__(self, doc, parent: QWidget | None = None, settings=None):
        super().__init__(parent)
        self.setWindowTitle("Batch fusion")
        self.doc = doc
        self.settings = settings
        self.runner = TaskRunner(self, max_threads=1)
        self.task: Task | None = None
        self.rows: list[Any] = []
        self.folders = QListWidget()
        self.folders.setToolTip("Files with the same name in every folder are fused together")
        add = QPushButton("Add folder…")
        remove = QPushButton("Remove")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("output folder")
        out_btn = QPushButton("Browse…")
        self.workers = QSpinBox()  # 0: in this process, one pair after another
        self.workers.setRange(0, max(1, os.cpu_count() or 1))
        self.workers.setSpecialValueText("none (in the app)")
        self.workers.setToolTip("Local worker processes (Dask) fusing pairs side by side; "
                                "none: one after another in the app")
        if not dask_available():
            self.workers.setEnabled(False)
            self.workers.setToolTip("Needs Dask: pip install 'fusionviewer[cluster]'")
        self.run_btn = QPushButton("Run batch")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("Ready")
        self.summary = QLabel("Uses the method, registration and device of the pipeline panel.")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.folders, 1)
        top.addLayout(folder_buttons)
        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Output"))
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(out_btn)
        out_row.addWidget(QLabel("Workers"))
        out_row.addWidget(self.workers)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_btn)
        run_row.addWidget(self.cancel_btn)
        run_row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Input folders (two or more, files matched by name)"))
        layout.addLayout(top)
        layout.addLayout(out_row)
        layout.addLayout(run_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(lambda: [self.folders.takeItem(self.folders.row(i))
                                        for i in self.folders.selectedItems()])
        out_btn.clicked.connect(self._choose_out)
        self.run_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.resize(760, 520)

    def set_folders(self, folders: list[str], out_dir: str) -> None:
        self.folders.clear()
        self.folders.addItems([str(f) for f in folders])
        self.out_edit.setText(str(out_dir))

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Input folder")
        if folder:
            self.folders.addItem(folder)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.out_edit.setText(folder)

    def start(self) -> bool:
        dirs = [self.folders.item(i).text() for i in range(self.folders.count())]
        out = self.out_edit.text().strip()
        if len(dirs) < 2 or not out:
            QMessageBox.warning(self, "Batch", "Choose at least two input folders and an "
                                "output folder.")
            return False
        if any(Path(out).resolve() == Path(d).resolve() for d in dirs):
            QMessageBox.warning(self, "Batch", f"{out}: the output folder must not be an input "
                                "folder.")
            return False
        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.table.setRowCount(0)
        self.summary.setText("Running…")
        workers = self.workers.value() or None
        self.task = self.runner.start(
            run_batch, dirs, out, self.doc.options, workers=workers, name="batch",
            progress=self._on_progress,
            finished=self._on_finished,
            failed=lambda e: QMessageBox.warning(self, "Batch failed", str(e).splitlines()[0]),
            cancelled=lambda: self.summary.setText("Cancelled."), done=self._on_done)
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{STAGES.get(stage, stage.capitalize())}… %p%")

    def _on_finished(self, rows: list[Any]) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            values = [row.name, row.status, row.method, f"{row.seconds:.2f}",
                      row.output if row.status == "ok" else row.message]
            for j, v in enumerate(values):
                item = QTableWidgetItem(str(v))
                if row.status == "failed":
                    item.setForeground(QColor(180, 0, 0))
                elif row.status == "skipped":
                    item.setForeground(QColor(140, 100, 0))
                self.table.setItem(i, j, item)
        counts = {s: sum(r.status == s for r in self.rows) for s in ("ok", "failed", "skipped")}
        failed = [f"{r.name}: {r.message}" for r in self.rows if r.status != "ok"]
        text = f"{counts['ok']} fused, {counts['failed']} failed, {counts['skipped']} skipped."
        if failed:
            text += "\nProblems:\n" + "\n".join(failed[:10])
        self.summary.setText(text)
        self.finished_rows.emit(self.rows)

    def _on_done(self) -> None:
        self.task = None
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self.progress.setValue(1000 if self.rows else 0)
        self.progress.setFormat("Done" if self.rows else "Ready")

    def done(self, result: int) -> None:  # closing cancels a running batch
        self.runner.close(5000)
        super().done(result)
