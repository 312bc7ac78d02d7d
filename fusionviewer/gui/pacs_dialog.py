"""File > PACS...: pick a server, search, load a series into slot A/B, send the fused series back.

All network work runs in a worker thread (``workers.TaskRunner``) with progress and cancel.
Servers are kept in the app's settings under ``pacs/servers`` (JSON, passwords left out: a password
typed in the editor lives for the session only, or comes from ``password_env``).

    dlg = PacsDialog(main_window, settings)
    dlg.seriesRetrieved.connect(lambda paths, slot: load_source(slot, paths))
    dlg.set_fused_result(fusion_result)  # "Send to PACS" exports it as DICOM SC, then sends
    dlg.set_send_paths(exported_dicom_files)  # or: send an already exported series
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog,
                               QDialogButtonBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..errors import FusionViewerError
from ..pacs import (PacsClient, PacsServer, Query, StoreReport, cache_size, clear_cache,
                    default_cache_dir, servers_from_json, servers_to_json)
from .workers import Task, TaskRunner

SETTINGS_KEY = "pacs/servers"
CACHE_KEY = "pacs/cache_dir"
MODALITIES = ("", "CT", "MR", "PT", "NM", "OT")
SLOTS = ("A", "B")


class ServerEditor(QDialog):
    """Edit one server's settings (DIMSE or DICOMweb)."""

    def __init__(self, server: PacsServer | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS server")
        s = server or PacsServer(name="New PACS", host="127.0.0.1", port=104)
        form = QFormLayout(self)
        self.name = QLineEdit(s.name)
        self.transport = QComboBox()
        self.transport.addItems(["dimse", "dicomweb"])
        self.transport.setCurrentText(s.transport)
        self.host = QLineEdit(s.host)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(int(s.port))
        self.ae_title = QLineEdit(s.ae_title)
        self.our_ae_title = QLineEdit(s.our_ae_title)
        self.retrieve = QComboBox()
        self.retrieve.addItems(["get", "move"])
        self.retrieve.setCurrentText(s.retrieve)
        self.our_port = QSpinBox()
        self.our_port.setRange(0, 65535)
        self.our_port.setValue(int(s.our_port))
        self.url = QLineEdit(s.url)
        self.url.setPlaceholderText("https://pacs.example.org/dicom-web")
        self.username = QLineEdit(s.username)
        self.password = QLineEdit(s.password)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept for this session only")
        self.password_env = QLineEdit(s.password_env)
        self.tls = QCheckBox("use TLS")
        self.tls.setChecked(s.tls)
        self.tls_ca = QLineEdit(s.tls_ca_file)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 600)
        self.timeout.setValue(float(s.timeout))
        self.timeout.setSuffix(" s")
        for label, widget in (("Name", self.name), ("Transport", self.transport),
                              ("Host", self.host), ("Port", self.port),
                              ("Archive AE title", self.ae_title),
                              ("Our AE title", self.our_ae_title),
                              ("Retrieve with", self.retrieve),
                              ("Our port (C-MOVE)", self.our_port),
                              ("DICOMweb URL", self.url), ("User", self.username),
                              ("Password", self.password),
                              ("Password env. variable", self.password_env),
                              ("", self.tls), ("CA certificates", self.tls_ca),
                              ("Timeout", self.timeout)):
            form.addRow(label, widget)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.transport.currentTextChanged.connect(self._update_enabled)
        self._update_enabled()
        self.result_server: PacsServer | None = None

    def _update_enabled(self) -> None:
        web = self.transport.currentText() == "dicomweb"
        for w in (self.host, self.port, self.ae_title, self.our_ae_title, self.retrieve,
                  self.our_port):
            w.setEnabled(not web)
        for w in (self.url, self.username, self.password, self.password_env):
            w.setEnabled(web)

    def server(self) -> PacsServer:
        """The edited settings (raises InputError when invalid)."""
        return PacsServer(
            name=self.name.text().strip(), transport=self.transport.currentText(),
            host=self.host.text().strip(), port=self.port.value(),
            ae_title=self.ae_title.text().strip(), our_ae_title=self.our_ae_title.text().strip(),
            retrieve=self.retrieve.currentText(), our_port=self.our_port.value(),
            url=self.url.text().strip(), username=self.username.text().strip(),
            password=self.password.text(), password_env=self.password_env.text().strip(),
            tls=self.tls.isChecked(), tls_ca_file=self.tls_ca.text().strip(),
            timeout=self.timeout.value())

    def _accept(self) -> None:
        try:
            self.result_server = self.server()
        except FusionViewerError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class PacsDialog(QDialog):
    """Search a PACS, load a series into source slot A or B, send a fused series back."""

    seriesRetrieved = Signal(object, int)  # list[Path] of the retrieved files, slot (0=A, 1=B)
    studiesFound = Signal(object)  # list[StudyInfo]
    seriesFound = Signal(object)  # list[SeriesInfo]
    sendFinished = Signal(object)  # StoreReport
    failed = Signal(str)  # one-line error shown to the user

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS")
        self.resize(980, 640)
        if settings is None:
            from .settings import app_settings
            settings = app_settings()
        self.settings = settings
        self.runner = TaskRunner(self, max_threads=1)
        self.task: Task | None = None
        self.studies: list = []
        self.series: list = []
        self.send_paths: list[Path] = []
        self.fused_result = None  # a pipeline FusionResult to export and send
        self._sending_count = 0
        self.last_report: StoreReport | None = None
        self._passwords: dict[str, str] = {}  # session only, by server name
        self._after_task = None  # run once the current task is done (e.g. list series)
        self.servers = self._load_servers()
        self._build()
        self._fill_servers()
        self._update_buttons()

    # --- settings -------------------------------------------------------------------------
    def _load_servers(self) -> list[PacsServer]:
        text = self.settings.value(SETTINGS_KEY, "")
        try:
            return servers_from_json(str(text or ""), source="settings")
        except FusionViewerError:
            return []

    def _save_servers(self) -> None:
        self.settings.setValue(SETTINGS_KEY, servers_to_json(self.servers))
        self.settings.sync()

    @property
    def cache_dir(self) -> Path:
        value = self.settings.value(CACHE_KEY, "")
        return Path(str(value)) if value else default_cache_dir()

    def current_server(self) -> PacsServer | None:
        i = self.server_combo.currentIndex()
        if not 0 <= i < len(self.servers):
            return None
        s = self.servers[i]
        pw = self._passwords.get(s.name)
        return dataclasses.replace(s, password=pw) if pw and not s.password else s

    def add_server(self, server: PacsServer, select: bool = True) -> None:
        """Add (or replace by name) a server and save the list in the settings."""
        if server.password:
            self._passwords[server.name] = server.password
        self.servers = [s for s in self.servers if s.name != server.name] + [server]
        self._save_servers()
        self._fill_servers(select=server.name if select else None)

    # --- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Server:"))
        self.server_combo = QComboBox()
        self.server_combo.setMinimumWidth(260)
        top.addWidget(self.server_combo, 1)
        self.new_button = QPushButton("New...")
        self.edit_button = QPushButton("Edit...")
        self.delete_button = QPushButton("Delete")
        self.echo_button = QPushButton("Test connection")
        for b in (self.new_button, self.edit_button, self.delete_button, self.echo_button):
            top.addWidget(b)
        layout.addLayout(top)

        box = QGroupBox("Search")
        grid = QGridLayout(box)
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("e.g. Smith* (wildcards * ?)")
        self.patient_id = QLineEdit()
        self.date_from = QLineEdit()
        self.date_from.setPlaceholderText("YYYYMMDD")
        self.date_to = QLineEdit()
        self.date_to.setPlaceholderText("YYYYMMDD")
        self.modality = QComboBox()
        self.modality.addItems([m or "any" for m in MODALITIES])
        self.accession = QLineEdit()
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        for col, (label, w) in enumerate((("Patient name", self.patient_name),
                                          ("Patient ID", self.patient_id),
                                          ("Accession", self.accession))):
            grid.addWidget(QLabel(label), 0, 2 * col)
            grid.addWidget(w, 0, 2 * col + 1)
        for col, (label, w) in enumerate((("Date from", self.date_from),
                                          ("Date to", self.date_to),
                                          ("Modality", self.modality))):
            grid.addWidget(QLabel(label), 1, 2 * col)
            grid.addWidget(w, 1, 2 * col + 1)
        grid.addWidget(self.search_button, 0, 6, 2, 1)
        layout.addWidget(box)

        split = QSplitter(Qt.Orientation.Vertical)
        self.study_table = self._table(["Date", "Patient", "Patient ID", "Accession",
                                        "Modalities", "Description", "Series", "Images"], stretch=5)
        self.series_table = self._table(["#", "Modality", "Description", "Images"], stretch=2)
        split.addWidget(self.study_table)
        split.addWidget(self.series_table)
        self.result_table = self._table(["File", "SOP Instance UID", "Result"], stretch=2)
        self.result_table.hide()
        split.addWidget(self.result_table)
        layout.addWidget(split, 1)

        actions = QHBoxLayout()
        self.load_buttons = [QPushButton(f"Load into {s}") for s in SLOTS]
        for b in self.load_buttons:
            actions.addWidget(b)
        self.send_button = QPushButton("Send to PACS")
        self.send_button.setToolTip("send the current fused result (DICOM series) to the server")
        actions.addWidget(self.send_button)
        actions.addStretch(1)
        self.cache_label = QLabel()
        self.open_cache_button = QPushButton("Open cache folder")
        self.clear_cache_button = QPushButton("Clear cache")
        for w in (self.cache_label, self.open_cache_button, self.clear_cache_button):
            actions.addWidget(w)
        layout.addLayout(actions)

        status = QHBoxLayout()
        self.status = QLabel("Pick a server and search.")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        status.addWidget(self.status, 1)
        status.addWidget(self.progress)
        status.addWidget(self.cancel_button)
        status.addWidget(self.close_button)
        layout.addLayout(status)

        self.new_button.clicked.connect(self._new_server)
        self.edit_button.clicked.connect(self._edit_server)
        self.delete_button.clicked.connect(self._delete_server)
        self.echo_button.clicked.connect(self.echo)
        self.search_button.clicked.connect(self.search)
        self.study_table.itemSelectionChanged.connect(self._study_selected)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        for slot, b in enumerate(self.load_buttons):
            b.clicked.connect(lambda _=False, k=slot: self.load_selected(k))
        self.send_button.clicked.connect(self._send_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.open_cache_button.clicked.connect(self._open_cache)
        self.clear_cache_button.clicked.connect(self._clear_cache)
        self.server_combo.currentIndexChanged.connect(lambda _: self._update_buttons())
        self._update_cache_label()

    @staticmethod
    def _table(headers: list[str], stretch: int | None = None) -> QTableWidget:
        t = QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().hide()
        header = t.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        if stretch is None:
            header.setStretchLastSection(True)
        else:
            header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        return t

    def _fill_servers(self, select: str | None = None) -> None:
        current = select or self.server_combo.currentText()
        self.server_combo.blockSignals(True)
        self.server_combo.clear()
        for s in self.servers:
            self.server_combo.addItem(s.name)
            self.server_combo.setItemData(self.server_combo.count() - 1, s.describe(),
                                          Qt.ItemDataRole.ToolTipRole)
        i = self.server_combo.findText(current)
        self.server_combo.setCurrentIndex(i if i >= 0 else (0 if self.servers else -1))
        self.server_combo.blockSignals(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.task is not None
        has_server = self.current_server() is not None
        for b in (self.search_button, self.echo_button):
            b.setEnabled(has_server and not busy)
        for b in (self.edit_button, self.delete_button):
            b.setEnabled(has_server and not busy)
        has_series = bool(self.series_table.selectionModel().selectedRows())
        for b in self.load_buttons:
            b.setEnabled(has_series and not busy)
        self.send_button.setEnabled((bool(self.send_paths) or self.fused_result is not None)
                                    and has_server and not busy)
        self.cancel_button.setEnabled(busy)
        self.clear_cache_button.setEnabled(not busy)

    def _update_cache_label(self) -> None:
        files, size = cache_size(self.cache_dir)
        self.cache_label.setText(f"Cache: {files} files, {size / 1e6:.1f} MB")
        self.cache_label.setToolTip(str(self.cache_dir))

    # --- server list ----------------------------------------------------------------------
    def _new_server(self) -> None:
        dlg = ServerEditor(None, self)
        if dlg.exec() and dlg.result_server is not None:
            self.add_server(dlg.result_server)

    def _edit_server(self) -> None:
        old = self.current_server()
        dlg = ServerEditor(old, self)
        if dlg.exec() and dlg.result_server is not None:
            if old is not None and old.name != dlg.result_server.name:
                self.servers = [s for s in self.servers if s.name != old.name]
            self.add_server(dlg.result_server)

    def _delete_server(self) -> None:
        s = self.current_server()
        if s is None:
            return
        self.servers = [x for x in self.servers if x.name != s.name]
        self._passwords.pop(s.name, None)
        self._save_servers()
        self._fill_servers()

    # --- running work ---------------------------------------------------------------------
    def _client(self) -> PacsClient:
        server = self.current_server()
        if server is None:
            raise FusionViewerError("no PACS server configured: use New... first")
        return PacsClient(server, cache_dir=self.cache_dir)

    def _start(self, label: str, fn, on_done) -> Task | None:
        if self.task is not None:
            return None
        try:
            client = self._client()
        except FusionViewerError as exc:
            self._fail(exc)
            return None
        self.progress.setValue(0)
        self._set_status(f"{label}...")
        self.task = self.runner.start(
            lambda progress, cancel: fn(client, progress, cancel), name=label,
            progress=self._progress,
            finished=lambda value: self._task_over(on_done, value),
            failed=lambda exc: self._task_over(self._fail, exc),
            cancelled=lambda: self._task_over(self._set_status, f"{label}: cancelled"))
        self._update_buttons()
        return self.task

    def _task_over(self, handler, value) -> None:
        """Mark the dialog idle, then report (so a handler or listener may start new work)."""
        self.task = None
        self._update_buttons()
        self._update_cache_label()
        handler(value)
        after, self._after_task = self._after_task, None
        if after is not None:
            after()

    def _progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(int(round(100 * fraction)))

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _fail(self, exc) -> None:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._set_status(f"Error: {message}")
        self.failed.emit(message)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def echo(self) -> Task | None:
        name = self.server_combo.currentText()
        return self._start("Testing connection", lambda c, p, k: c.echo(),
                           lambda t: self._set_status(f"'{name}' answered in {1000 * t:.0f} ms"))

    def query(self) -> Query:
        """The search terms typed in the form (InputError for a bad date)."""
        return Query(patient_name=self.patient_name.text().strip(),
                     patient_id=self.patient_id.text().strip(),
                     date_from=self.date_from.text().strip(), date_to=self.date_to.text().strip(),
                     modality=MODALITIES[self.modality.currentIndex()],
                     accession=self.accession.text().strip())

    def search(self) -> Task | None:
        try:
            query = self.query()
        except FusionViewerError as exc:
            self._fail(exc)
            return None
        return self._start("Searching", lambda c, p, k: c.find_studies(query), self._show_studies)

    def _show_studies(self, studies) -> None:
        self.studies = list(studies)
        t = self.study_table
        t.setRowCount(0)
        self.series_table.setRowCount(0)
        self.series = []
        for s in self.studies:
            row = t.rowCount()
            t.insertRow(row)
            values = (s.study_date, s.patient_name.replace("^", " ").strip(), s.patient_id,
                      s.accession, "/".join(s.modalities), s.description,
                      "" if s.num_series is None else str(s.num_series),
                      "" if s.num_instances is None else str(s.num_instances))
            for col, v in enumerate(values):
                t.setItem(row, col, QTableWidgetItem(v))
        self._set_status(f"{len(self.studies)} stud{'y' if len(self.studies) == 1 else 'ies'}"
                         " found")
        self.studiesFound.emit(self.studies)
        if len(self.studies) == 1:
            self._after_task = lambda: t.selectRow(0)  # lists its series

    def _study_selected(self) -> None:
        rows = self.study_table.selectionModel().selectedRows()
        if not rows or self.task is not None:
            self._update_buttons()
            return
        study = self.studies[rows[0].row()]
        self._start("Listing series", lambda c, p, k: c.find_series(study.study_uid),
                    self._show_series)

    def select_study(self, row: int) -> None:
        self.study_table.selectRow(row)

    def _show_series(self, series) -> None:
        self.series = list(series)
        t = self.series_table
        t.setRowCount(0)
        for s in self.series:
            row = t.rowCount()
            t.insertRow(row)
            values = ("" if s.number is None else str(s.number), s.modality, s.description,
                      "" if s.num_instances is None else str(s.num_instances))
            for col, v in enumerate(values):
                t.setItem(row, col, QTableWidgetItem(v))
        self._set_status(f"{len(self.series)} series")
        self.seriesFound.emit(self.series)
        self._update_buttons()

    def select_series(self, row: int) -> None:
        self.series_table.selectRow(row)

    def load_selected(self, slot: int) -> Task | None:
        """Retrieve the selected series into the cache, then emit seriesRetrieved(paths, slot)."""
        rows = self.series_table.selectionModel().selectedRows()
        if not rows:
            return None
        s = self.series[rows[0].row()]

        def done(paths, k=slot, s=s):
            self._set_status(f"Retrieved {len(paths)} image(s) of {s.modality} "
                             f"'{s.description}' into slot {SLOTS[k]}")
            self.seriesRetrieved.emit(list(paths), k)

        return self._start(f"Retrieving into {SLOTS[slot]}",
                           lambda c, p, k: c.retrieve_series(s.study_uid, s.series_uid,
                                                             progress=p, cancel=k), done)

    # --- sending --------------------------------------------------------------------------
    def set_send_paths(self, paths) -> None:
        """The exported fused DICOM series that "Send to PACS" sends (empty disables it)."""
        self.send_paths = [Path(p) for p in (paths or [])]
        self._update_buttons()

    def set_fused_result(self, result) -> None:
        """A pipeline FusionResult that "Send to PACS" exports (DICOM SC, new series) and sends."""
        self.fused_result = result
        self.send_paths = []
        self._update_buttons()

    def _send_clicked(self) -> None:
        if self.send_paths:
            self.send_series(self.send_paths)
        elif self.fused_result is not None:
            self.send_result(self.fused_result)

    def send_series(self, paths) -> Task | None:
        """Send DICOM files to the current server; per-instance results fill the result table."""
        paths = [Path(p) for p in paths]
        if not paths:
            self._fail(FusionViewerError("nothing to send: export the fused result as DICOM"))
            return None
        self.send_paths = paths
        return self._start("Sending", lambda c, p, k: self._store(c, paths, p, k),
                           self._show_report)

    def send_result(self, result) -> Task | None:
        """Export a FusionResult as a DICOM series into a temporary folder and send it."""
        def work(client, progress, cancel):
            from ..pipeline import export_result
            from ..progress import sub_progress

            with tempfile.TemporaryDirectory(prefix="fusionviewer-send-") as tmp:
                paths = export_result(result, Path(tmp) / "fused", fmt="dicom")
                self._sending_count = len(paths)
                return self._store(client, paths, sub_progress(progress, 0.1, 1.0), cancel)

        return self._start("Exporting and sending", work, self._show_report)

    @staticmethod
    def _store(client: PacsClient, paths, progress, cancel) -> StoreReport:
        try:
            return client.store(paths, progress=progress, cancel=cancel)
        except FusionViewerError as exc:
            report = getattr(exc, "report", None)
            if report is None:
                raise
            return report  # cancelled: show what was sent before

    def _show_report(self, report: StoreReport) -> None:
        self.last_report = report
        t = self.result_table
        t.setRowCount(0)
        for r in report.results:
            row = t.rowCount()
            t.insertRow(row)
            for col, v in enumerate((r.path.name, r.sop_instance_uid,
                                     ("OK" if r.ok else "FAILED") + f" - {r.message}")):
                item = QTableWidgetItem(v)
                if not r.ok:
                    item.setForeground(Qt.GlobalColor.red)
                t.setItem(row, col, item)
        t.show()
        sent = len(report.results)
        expected = len(self.send_paths) or self._sending_count
        extra = "" if sent == expected else f" (cancelled after {sent})"
        self._set_status(f"{report.summary()}{extra}; {len(report.failed)} failed")
        self.sendFinished.emit(report)

    # --- cache ----------------------------------------------------------------------------
    def _open_cache(self) -> None:
        folder = self.cache_dir
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.fspath(folder)))

    def _clear_cache(self) -> None:
        answer = QMessageBox.question(self, "Clear PACS cache",
                                      f"Delete every retrieved series in {self.cache_dir}?")
        if answer == QMessageBox.StandardButton.Yes:
            self.clear_cache()

    def clear_cache(self) -> int:
        try:
            n = clear_cache(self.cache_dir)
        except FusionViewerError as exc:
            self._fail(exc)
            return 0
        self._set_status(f"Removed {n} cached file(s)")
        self._update_cache_label()
        return n

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.runner.close(5000)
        super().closeEvent(event)

