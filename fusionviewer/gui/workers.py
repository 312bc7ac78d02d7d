"""Run core functions off the GUI thread with progress and cancel (QThreadPool + signals)."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..errors import Cancelled
from ..progress import CancelToken

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals per second reach the GUI thread


WORKER_NICENESS = 5  # worker threads yield the CPU to the GUI thread (Linux: per-thread nice)


def _lower_thread_priority() -> None:
    """Renice the current worker thread once (and the compute threads it starts, which inherit
    it) so that the GUI thread stays responsive on machines with few cores."""
    if not sys.platform.startswith("linux") or getattr(_thread_state, "reniced", False):
        return
    _thread_state.reniced = True
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + WORKER_NICENESS))
    except OSError:
        pass


_thread_state = threading.local()


class TaskSignals(QObject):
    progress = Signal(str, float)
    finished = Signal(object)   # the function's return value
    failed = Signal(object)     # the exception
    cancelled = Signal()
    done = Signal()             # always emitted last


class Task(QRunnable):
    """Calls ``fn(*args, progress=..., cancel=token, **kwargs)`` in a pool thread."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs, self.name = fn, args, kwargs, name
        self.token = CancelToken()
        self.signals = TaskSignals()
        self._last_emit = 0.0
        self._last_stage = ""

    def cancel(self) -> None:
        self.token.set()

    def _progress(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != self._last_stage or now - self._last_emit >= PROGRESS_INTERVAL_S \
                or fraction >= 1.0:
            self._last_emit, self._last_stage = now, stage
            self.signals.progress.emit(stage, float(fraction))

    def run(self) -> None:  # in the pool thread
        _lower_thread_priority()
        try:
            result = self.fn(*self.args, progress=self._progress, cancel=self.token, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure goes to the GUI as a dialog
            exc.gui_traceback = traceback.format_exc()
            self.signals.failed.emit(exc)
        else:
            if self.token.is_set():
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(result)
        self.signals.done.emit()


class TaskRunner(QObject):
    """Starts tasks in a private pool and keeps them alive until they are done."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: set[Task] = set()

    def start(self, task: Task) -> Task:
        self._tasks.add(task)
        task.signals.done.connect(lambda t=task: self._tasks.discard(t))
        self.pool.start(task)
        return task

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    @property
    def active(self) -> int:
        return len(self._tasks)
