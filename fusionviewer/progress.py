"""Progress reporting and cancellation, passed as parameters to every slow core function.

A progress callback is any callable ``progress(stage: str, fraction: float)`` with fraction in
[0, 1]. A cancel flag is anything with ``is_set() -> bool`` (``threading.Event`` works).
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol

from .errors import Cancelled

ProgressCallback = Callable[[str, float], None]

# Every stage name a core function reports, with the label the front ends show for it.
STAGES = {"loading": "Loading", "registering": "Registering", "normalizing": "Normalizing",
          "fusing": "Fusing", "measuring": "Measuring", "exporting": "Exporting"}


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class CancelToken(threading.Event):
    """A thread-safe cancel flag: the GUI/CLI calls ``set()``, workers call ``check()``."""

    def check(self) -> None:
        if self.is_set():
            raise Cancelled("cancelled by the user")


def check_cancel(cancel: CancelFlag | None) -> None:
    """Raise Cancelled if the flag is set (no-op when cancel is None)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled by the user")


def report(progress: ProgressCallback | None, stage: str, fraction: float) -> None:
    """Call the progress callback if there is one, clamping fraction to [0, 1]."""
    if progress is not None:
        progress(stage, min(1.0, max(0.0, float(fraction))))


def sub_progress(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback | None:
    """Map a sub-task's [0, 1] onto [start, stop] of the parent's progress."""
    if progress is None:
        return None

    def _inner(stage: str, fraction: float) -> None:
        progress(stage, start + (stop - start) * min(1.0, max(0.0, fraction)))

    return _inner
