"""The GUI's counterpart of ``fusionviewer.progress``: run a core function in a worker thread.

``TaskRunner.start(fn, *args, progress=..., finished=..., failed=..., cancelled=..., done=...)``
calls ``fn(*args, progress=cb, cancel=token)`` in a pool thread (``progress``/``cancel`` only
where ``fn`` takes them) and routes its outcome to exactly one of ``finished(value)``,
``failed(exception)`` or ``cancelled()``, then ``done()``, on the GUI thread. ``Task.cancel()``
sets the token; after ``TaskRunner.close()`` late signals of running tasks are ignored.
Used by the controller, the PACS dialog and the batch dialog.
"""

from __future__ import annotations

import inspect
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

_thread_state = threading.local()


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


def _takes(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class TaskSignals(QObject):
    progress = Signal(str, float)
    finished = Signal(object)   # the function's return value
    failed = Signal(object)     # the exception
    cancelled = Signal()
    done = Signal()             # always emitted last


class Task(QRunnable):
    """One call of ``fn`` in a pool thread; ``cancel()`` sets its CancelToken."""

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
        kwargs = dict(self.kwargs)
        if _takes(self.fn, "progress"):
            kwargs["progress"] = self._progress
        if _takes(self.fn, "cancel"):
            kwargs["cancel"] = self.token
        try:
            result = self.fn(*self.args, **kwargs)
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
    """Starts tasks in a private pool, routes their signals, keeps them alive until done."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.closed = False
        self._tasks: set[Task] = set()

    def start(self, fn: Callable[..., Any], *args: Any, name: str = "",
              progress: Callable | None = None, finished: Callable | None = None,
              failed: Callable | None = None, cancelled: Callable | None = None,
              done: Callable | None = None, **kwargs: Any) -> Task:
        """Run ``fn(*args, **kwargs)`` in a worker; the callbacks run on the GUI thread."""
        task = Task(fn, *args, name=name, **kwargs)
        s = task.signals
        for signal, slot in ((s.progress, progress), (s.finished, finished), (s.failed, failed),
                             (s.cancelled, cancelled)):
            if slot is not None:
                signal.connect(self._unless_closed(slot))
        s.done.connect(lambda t=task: self._tasks.discard(t))
        if done is not None:
            s.done.connect(self._unless_closed(done))
        self._tasks.add(task)
        self.pool.start(task)
        return task

    def _unless_closed(self, slot: Callable) -> Callable:
        def guarded(*args):
            if not self.closed:
                slot(*args)
        return guarded

    @property
    def tasks(self) -> list[Task]:
        """The tasks started and not yet done."""
        return list(self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    def close(self, msecs: int = 5000) -> bool:
        """Cancel every task, wait for the workers, and ignore their signals from now on."""
        self.closed = True
        self.cancel_all()
        return self.wait(msecs)
