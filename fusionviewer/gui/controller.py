"""Starts the slow work (load, fuse, measure, export, batch) in workers and feeds the document.

The GUI thread only starts tasks and applies their results; every core call runs in a Task with
``progress`` and ``cancel``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ..errors import InputError
from ..image import Image
from ..pipeline.sources import guess_modality
from .document import Document, Source
from .workers import Task, TaskRunner

METRICS_DELAY_MS = 150  # wait this long after the last slice change before measuring it

def load_one(path: str, series_uid: str | None, modality: str | None, *, progress=None,
             cancel=None) -> tuple[str, Any]:
    """Worker: ('series', [SeriesInfo, ...]) for a folder of several series, else
    ('image', (Image, its display range))."""
    from ..pipeline import SeveralSeries, load_source
    from .display import robust_range

    try:
        image = load_source(path, series_uid=series_uid, modality=modality, progress=progress,
                            cancel=cancel)
    except SeveralSeries as several:
        return ("series", several.series)

    return ("image", (image, robust_range(image.array)))  # the range off the GUI thread


def fuse(images: list[Image], options: Any, *, progress=None, cancel=None) -> Any:
    """Worker: run the pipeline (its fusion step holds the CNN and GPU fallbacks)."""
    from ..pipeline import FusionJob

    return FusionJob(images, options).run(progress=progress, cancel=cancel)


def slice_metrics(result: Any, k: int, *, progress=None, cancel=None
                  ) -> tuple[dict[str, float], bool]:
    """Worker: every metric of the fused slice k (pipeline.measure), and whether the slice has
    signal (metrics of an empty slice mean little)."""
    from ..metrics import has_signal, to_display_u8
    from ..pipeline import measure

    values = measure(result, k, progress=progress, cancel=cancel)
    return values, has_signal(to_display_u8(result.fused_gray[k]))


def volume_metrics(result: Any, *, progress=None, cancel=None) -> dict:
    """Worker: metrics of every slice and their mean (pipeline.measure_volume)."""
    from ..pipeline import measure_volume

    return measure_volume(result, progress=progress, cancel=cancel)


def export(result: Any, out: str, fmt: str, force: bool, *, progress=None, cancel=None) -> list:
    """Worker: write the fused image (png, nifti or dicom) with pipeline.export_result."""
    from ..pipeline import export_result
    from ..progress import report

    report(progress, "exporting", 0.0)
    paths = export_result(result, out, fmt, force=force)
    report(progress, "exporting", 1.0)
    return paths


def export_slice_png(result: Any, out: str, k: int, force: bool, *, progress=None,
                     cancel=None) -> list:
    """Worker: one slice of the fused image as an 8-bit PNG (io.export.write_png)."""
    from ..io.export import write_png
    from ..progress import report

    report(progress, "exporting", 0.0)
    write_png(result.fused, Path(out), slice_index=k, force=force)
    report(progress, "exporting", 1.0)
    return [Path(out)]


class Controller(QObject):
    """Owns the task runner; turns user intents into tasks and task results into document state."""

    error = Signal(str, str)               # title, one-line message
    notice = Signal(str)
    loadFinished = Signal()                # every pending load is done (ok or not)
    fusionFinished = Signal(object)        # FusionResult
    fusionFailed = Signal(str)
    fusionCancelled = Signal()
    metricsFinished = Signal(object)       # dict for the current slice
    volumeMetricsFinished = Signal(object)
    exportFinished = Signal(object)        # list of written paths
    recentChanged = Signal()

    def __init__(self, doc: Document, settings=None, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc
        self.settings = settings
        self.runner = TaskRunner(self, max_threads=2)
        self.options_provider: Callable[[], Any] | None = None
        self.choose_series: Callable[[str, list], str | None] = lambda path, series: None
        self.auto_run = True
        self.fusion_task: Task | None = None
        self.metrics_task: Task | None = None
        self.other_tasks: list[Task] = []
        self.pending_loads = 0
        self._rerun = False
        self._closed = False
        self._metrics_timer = QTimer(self)
        self._metrics_timer.setSingleShot(True)
        self._metrics_timer.setInterval(METRICS_DELAY_MS)
        self._metrics_timer.timeout.connect(self.measure_current_slice)
        doc.sliceChanged.connect(lambda _k: self._metrics_timer.start())

    # --- loading -------------------------------------------------------------------------------
    def load_paths(self, paths: list[str], slot: int | None = None) -> None:
        """Load files/folders: into ``slot`` onwards, or the first empty slots (drop on window)."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return
        if slot is None:
            if len(paths) >= 2:
                slots = list(range(len(paths)))
                for i in range(len(paths), len(self.doc.sources)):
                    self.doc.set_source(i, None)
            else:
                slots = [self.doc.first_empty_slot()]
        else:
            slots = list(range(slot, slot + len(paths)))
        if self.settings is not None:
            from .settings import add_recent
            add_recent(self.settings, paths)
            self.recentChanged.emit()
        for path, s in zip(paths, slots):
            self._start_load(path, s, None)

    def _start_load(self, path: str, slot: int, series_uid: str | None) -> None:
        self.pending_loads += 1
        task = Task(load_one, path, series_uid, guess_modality(path), name="loading")
        task.signals.progress.connect(self.doc.progressChanged)
        task.signals.finished.connect(self._g(lambda r, p=path, s=slot: self._on_loaded(p, s, r)))
        task.signals.failed.connect(self._g(lambda e, p=path: self._on_load_failed(p, e)))
        task.signals.done.connect(self._g(self._on_load_done))
        self.other_tasks.append(task)
        task.signals.done.connect(self._g(lambda t=task: self._forget(t)))
        self.doc.set_busy(True)
        self.runner.start(task)

    def _on_loaded(self, path: str, slot: int, result: tuple[str, Any]) -> None:
        kind, value = result
        if kind == "series":
            uid = self.choose_series(path, value)
            if uid:
                self._start_load(path, slot, uid)
            return
        image, display_range = value
        uid = image.provenance.series_instance_uid
        self.doc.set_source(slot, Source(path, image, uid, display_range))

    def _on_load_failed(self, path: str, exc: Exception) -> None:
        self.error.emit("Cannot open image", _message(exc, path))

    def _on_load_done(self) -> None:
        self.pending_loads -= 1
        if self.pending_loads == 0:
            self._update_busy()
            self.loadFinished.emit()
            if self.auto_run and len(self.doc.loaded()) >= 2:
                self.run_fusion()

    def remove_source(self, slot: int) -> None:
        self.doc.set_source(slot, None)

    # --- fusion --------------------------------------------------------------------------------
    def run_fusion(self) -> bool:
        """Start a fusion of the loaded sources; a running one is cancelled and re-run after."""
        sources = self.doc.loaded()
        if len(sources) < 2:
            self.error.emit("Cannot fuse", "Load at least two images first.")
            return False
        if self.fusion_task is not None:
            self._rerun = True
            self.fusion_task.cancel()
            return True
        try:
            options = self.options_provider() if self.options_provider else None
            if options is not None:
                options.validate(len(sources))
        except InputError as exc:
            self.error.emit("Cannot fuse", str(exc))
            return False
        paths = tuple(s.path for s in sources)
        task = Task(fuse, [s.image for s in sources], options, name="fusing")
        task.signals.progress.connect(self.doc.progressChanged)
        task.signals.finished.connect(self._g(lambda r, p=paths: self._on_fused(r, p)))
        task.signals.failed.connect(self._g(self._on_fusion_failed))
        task.signals.cancelled.connect(self._g(self._on_fusion_cancelled))
        task.signals.done.connect(self._g(self._on_fusion_done))
        self.fusion_task = task
        self.doc.set_busy(True)
        self.doc.progressChanged.emit("starting", 0.0)
        self.runner.start(task)
        return True

    def cancel(self) -> None:
        """Cancel the running fusion (and measuring/exports); the previous result stays."""
        self._rerun = False
        for task in [self.fusion_task, self.metrics_task, *self.other_tasks]:
            if task is not None:
                task.cancel()

    def _on_fused(self, result: Any, paths: tuple[str, ...]) -> None:
        self.doc.set_result(result, paths)
        self.notice.emit("; ".join(getattr(result, "notices", []) or []))  # "" clears it
        self.fusionFinished.emit(result)
        self.measure_current_slice()

    def _on_fusion_failed(self, exc: Exception) -> None:
        msg = _message(exc)
        self.error.emit("Fusion failed", msg)
        self.fusionFailed.emit(msg)

    def _on_fusion_cancelled(self) -> None:
        self.doc.statusMessage.emit("Fusion cancelled; the previous result is kept.")
        self.fusionCancelled.emit()

    def _on_fusion_done(self) -> None:
        self.fusion_task = None
        self._update_busy()
        if self._rerun:
            self._rerun = False
            self.run_fusion()

    # --- metrics -------------------------------------------------------------------------------
    def measure_current_slice(self) -> None:
        """Compute the metrics of the current slice of the result in the background."""
        if not self.doc.result_is_current():
            return
        if self.metrics_task is not None:
            self.metrics_task.cancel()
        k = min(self.doc.slice_index, self.doc.result.fused_gray.shape[0] - 1)
        task = Task(slice_metrics, self.doc.result, k, name="measuring")
        result = self.doc.result
        task.signals.progress.connect(self.doc.progressChanged)
        task.signals.finished.connect(self._g(lambda m, k=k, r=result: self._on_measured(m, k, r)))
        task.signals.failed.connect(
            self._g(lambda e: self.error.emit("Metrics failed", _message(e))))
        task.signals.done.connect(self._g(lambda t=task: self._on_metrics_done(t)))
        self.metrics_task = task
        self.doc.set_busy(True)
        self.runner.start(task)

    def _on_measured(self, value: tuple[dict, bool], k: int, result: Any) -> None:
        metrics, signal = value
        if result is self.doc.result:
            self.doc.set_metrics(metrics, k, signal)
            self.metricsFinished.emit(metrics)

    def _on_metrics_done(self, task: Task) -> None:
        if self.metrics_task is task:
            self.metrics_task = None
        self._update_busy()

    def measure_volume(self) -> None:
        """Whole-volume metrics on request."""
        if not self.doc.result_is_current():
            return
        result = self.doc.result
        self._start_other(Task(volume_metrics, result, name="measuring"),
                          lambda v, r=result: self._on_volume_measured(v, r), "Metrics failed")

    def _on_volume_measured(self, value: Any, result: Any) -> None:
        if result is self.doc.result:
            self.doc.set_volume_metrics(value)
            self.volumeMetricsFinished.emit(value)

    # --- export --------------------------------------------------------------------------------
    def export(self, out: str, fmt: str, force: bool = False) -> bool:
        """Write the current result in the background; exportFinished carries the paths."""
        if self.doc.result is None:
            self.error.emit("Nothing to export", "Run a fusion first.")
            return False
        self._start_other(Task(export, self.doc.result, str(out), fmt, force, name="exporting"),
                          self.exportFinished.emit, "Export failed")
        return True

    def export_slice_png(self, out: str, k: int, force: bool = False) -> bool:
        """Write slice k of the current result as a PNG in the background."""
        if self.doc.result is None:
            self.error.emit("Nothing to export", "Run a fusion first.")
            return False
        k = min(k, self.doc.result.fused.num_slices - 1)
        self._start_other(Task(export_slice_png, self.doc.result, str(out), k, force,
                               name="exporting"), self.exportFinished.emit, "Export failed")
        return True

    def _start_other(self, task: Task, on_finished: Callable, error_title: str) -> Task:
        task.signals.progress.connect(self.doc.progressChanged)
        task.signals.finished.connect(self._g(on_finished))
        task.signals.failed.connect(self._g(lambda e: self.error.emit(error_title, _message(e))))
        task.signals.cancelled.connect(self._g(
            lambda: self.doc.statusMessage.emit(f"{task.name.capitalize()} cancelled")))
        task.signals.done.connect(self._g(lambda t=task: self._forget(t)))
        self.other_tasks.append(task)
        self.doc.set_busy(True)
        self.runner.start(task)
        return task

    def _forget(self, task: Task) -> None:
        if task in self.other_tasks:
            self.other_tasks.remove(task)
        self._update_busy()

    def _update_busy(self) -> None:
        busy = bool(self.fusion_task or self.metrics_task or self.other_tasks
                    or self.pending_loads)
        self.doc.set_busy(busy)
        if not busy:
            self.doc.progressChanged.emit("", 1.0)

    def _g(self, fn: Callable) -> Callable:
        """Wrap a task-signal handler so that it is ignored once the window has closed."""
        def guarded(*args):
            if not self._closed:
                fn(*args)
        return guarded

    def shutdown(self, msecs: int = 5000) -> None:
        """Cancel everything, wait for the workers, and ignore their late signals."""
        self._closed = True
        self._metrics_timer.stop()
        self.cancel()
        self.runner.wait(msecs)


def _message(exc: BaseException, path: str | None = None) -> str:
    """A one-line message for a dialog: InputError as is, others with their type."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if isinstance(exc, InputError):
        return line
    prefix = f"{path}: " if path and path not in line else ""
    return f"{prefix}{type(exc).__name__}: {line}"
