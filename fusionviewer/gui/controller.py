"""Task wiring: turns user intents into worker tasks (``workers.TaskRunner``) on the pipeline's
functions and their results into document state. The options come from ``doc.options``.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ..errors import InputError
from ..pipeline import FusionJob, SeveralSeries, export_result, guess_modality, load_source, \
    measure, measure_volume
from .document import Document, Source
from .workers import Task, TaskRunner

METRICS_DELAY_MS = 150  # wait this long after the last slice change before measuring it


def load_one(path: str, series_uid: str | None, modality: str | None, *, progress=None,
             cancel=None) -> tuple[Any, tuple[float, float]]:
    """Worker: the image (pipeline.load_source; SeveralSeries propagates) and its display range
    (computed off the GUI thread)."""
    from .display import robust_range

    image = load_source(path, series_uid=series_uid, modality=modality, progress=progress,
                        cancel=cancel)
    return image, robust_range(image.array)


def slice_metrics(result: Any, k: int, *, progress=None, cancel=None
                  ) -> tuple[dict[str, float], bool]:
    """Worker: the metrics of fused slice k (pipeline.measure) and whether the slice has signal
    (metrics of an empty slice mean little)."""
    from ..metrics import has_signal, to_display_u8

    values = measure(result, k, progress=progress, cancel=cancel)
    return values, has_signal(to_display_u8(result.fused_gray[k]))


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
        self.choose_series: Callable[[str, list], str | None] = lambda path, series: None
        self.auto_run = True
        self.fusion_task: Task | None = None
        self.metrics_task: Task | None = None
        self.tasks: list[Task] = []            # every task that makes the document busy
        self.pending_loads = 0
        self._rerun = False
        self._metrics_timer = QTimer(self)
        self._metrics_timer.setSingleShot(True)
        self._metrics_timer.setInterval(METRICS_DELAY_MS)
        self._metrics_timer.timeout.connect(self.measure_current_slice)
        doc.sliceChanged.connect(lambda _k: self._metrics_timer.start())

    def _run(self, fn: Callable, *args: Any, name: str, finished: Callable, error_title: str,
             failed: Callable | None = None, cancelled: Callable | None = None,
             done: Callable | None = None, **kwargs: Any) -> Task:
        """Start fn in a worker: progress to the document, failures to ``error``."""
        def on_done() -> None:
            if task in self.tasks:
                self.tasks.remove(task)
            if done is not None:
                done()
            self._update_busy()

        task = self.runner.start(
            fn, *args, name=name, progress=self.doc.progressChanged.emit, finished=finished,
            failed=failed or (lambda e: self.error.emit(error_title, _message(e))),
            cancelled=cancelled or (lambda: self.doc.statusMessage.emit(
                f"{name.capitalize()} cancelled")), done=on_done, **kwargs)
        self.tasks.append(task)
        self.doc.set_busy(True)
        return task

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
        self._run(load_one, path, series_uid, guess_modality(path), name="loading",
                  finished=lambda r: self._on_loaded(path, slot, series_uid, r),
                  error_title="Cannot open image",
                  failed=lambda e: self._on_load_failed(path, slot, e),
                  done=self._on_load_done)

    def _on_loaded(self, path: str, slot: int, series_uid: str | None, value: tuple) -> None:
        image, display_range = value
        uid = series_uid or image.provenance.series_instance_uid
        self.doc.set_source(slot, Source(path, image, uid, display_range))

    def _on_load_failed(self, path: str, slot: int, exc: Exception) -> None:
        if isinstance(exc, SeveralSeries):  # the user picks one; loading starts again
            uid = self.choose_series(path, exc.series)
            if uid:
                self._start_load(path, slot, uid)
            return
        self.error.emit("Cannot open image", _message(exc, path))

    def _on_load_done(self) -> None:
        self.pending_loads -= 1
        if self.pending_loads == 0:
            self.loadFinished.emit()
            if self.auto_run and len(self.doc.loaded()) >= 2:
                self.run_fusion()

    def remove_source(self, slot: int) -> None:
        self.doc.set_source(slot, None)

    # --- fusion --------------------------------------------------------------------------------
    def run_fusion(self) -> bool:
        """Fuse the loaded sources with ``doc.options``; a running fusion is cancelled and re-run
        after."""
        sources = self.doc.loaded()
        if len(sources) < 2:
            self.error.emit("Cannot fuse", "Load at least two images first.")
            return False
        if self.fusion_task is not None:
            self._rerun = True
            self.fusion_task.cancel()
            return True
        options = self.doc.options
        try:
            options.validate(len(sources))
        except InputError as exc:
            self.error.emit("Cannot fuse", str(exc))
            return False
        made_from = self.doc.fusion_input()
        self.doc.progressChanged.emit("starting", 0.0)
        self.fusion_task = self._run(
            FusionJob([s.image for s in sources], options).run, name="fusing",
            finished=lambda r: self._on_fused(r, made_from), error_title="Fusion failed",
            failed=self._on_fusion_failed, cancelled=self._on_fusion_cancelled,
            done=self._on_fusion_done)
        return True

    def cancel(self) -> None:
        """Cancel the running fusion (and measuring/exports); the previous result stays."""
        self._rerun = False
        for task in self.tasks:
            task.cancel()

    def _on_fused(self, result: Any, made_from: tuple) -> None:
        self.doc.set_result(result, made_from)
        self.notice.emit("; ".join(result.notices))  # "" clears it
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
        if self._rerun:
            self._rerun = False
            self.run_fusion()

    # --- metrics -------------------------------------------------------------------------------
    def measure_current_slice(self) -> None:
        """Compute the metrics of the current slice of the result in the background."""
        if not self.doc.result_fits_sources():
            return
        if self.metrics_task is not None:
            self.metrics_task.cancel()
        result = self.doc.result
        k = min(self.doc.slice_index, result.fused_gray.shape[0] - 1)
        task = self._run(slice_metrics, result, k, name="measuring",
                         finished=lambda m: self._on_measured(m, k, result),
                         error_title="Metrics failed", cancelled=lambda: None,
                         done=lambda: self._on_metrics_done(task))
        self.metrics_task = task

    def _on_measured(self, value: tuple[dict, bool], k: int, result: Any) -> None:
        metrics, signal = value
        if result is self.doc.result:
            self.doc.set_metrics(metrics, k, signal)
            self.metricsFinished.emit(metrics)

    def _on_metrics_done(self, task: Task) -> None:
        if self.metrics_task is task:
            self.metrics_task = None

    def measure_volume(self) -> None:
        """Whole-volume metrics on request (pipeline.measure_volume)."""
        if not self.doc.result_fits_sources():
            return
        result = self.doc.result
        self._run(measure_volume, result, name="measuring",
                  finished=lambda v: self._on_volume_measured(v, result),
                  error_title="Metrics failed")

    def _on_volume_measured(self, value: dict, result: Any) -> None:
        if result is self.doc.result:
            self.doc.set_volume_metrics(value)
            self.volumeMetricsFinished.emit(value)

    # --- export --------------------------------------------------------------------------------
    def export(self, out: str, fmt: str, force: bool = False, slice_index: int | None = None,
               anonymise: bool = False) -> bool:
        """Write the current result in the background: pipeline.export_result, or with
        ``slice_index`` that slice as a PNG (io.export.write_png); exportFinished has the paths."""
        from ..io.export import write_png

        result = self.doc.result
        if result is None:
            self.error.emit("Nothing to export", "Run a fusion first.")
            return False
        self.doc.progressChanged.emit("exporting", 0.0)
        if slice_index is None:
            self._run(export_result, result, str(out), fmt, force=force, anonymise=anonymise,
                      name="exporting",
                      finished=self.exportFinished.emit, error_title="Export failed")
        else:
            k = min(slice_index, result.fused.num_slices - 1)
            self._run(write_png, result.fused, str(out), slice_index=k, force=force,
                      name="exporting", finished=lambda p: self.exportFinished.emit([p]),
                      error_title="Export failed")
        return True

    def _update_busy(self) -> None:
        busy = bool(self.tasks or self.pending_loads)
        self.doc.set_busy(busy)
        if not busy:
            self.doc.progressChanged.emit("", 1.0)

    def shutdown(self, msecs: int = 5000) -> None:
        """Cancel everything, wait for the workers, and ignore their late signals."""
        self._metrics_timer.stop()
        self._rerun = False
        self.runner.close(msecs)


def _message(exc: BaseException, path: str | None = None) -> str:
    """A one-line message for a dialog: InputError as is, others with their type."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if isinstance(exc, InputError):
        return line
    prefix = f"{path}: " if path and path not in line else ""
    return f"{prefix}{type(exc).__name__}: {line}"
