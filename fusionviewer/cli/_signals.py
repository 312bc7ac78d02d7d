"""SIGINT / SIGTERM as cancellation: the first signal sets the run's cancel token (the core stops
at its next check: between slices, files, pairs, ITK iterations); if the run has not stopped a
second later, or at a second signal, KeyboardInterrupt is raised in the main thread. Either
way the command ends with 130 (SIGINT) or 143 (SIGTERM), and the core's ``finally`` blocks
remove temporary files, so nothing half-written is left.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from ..progress import CancelToken

GRACE_S = 1.0  # after the first signal, how long the core may take to notice the token
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupt:
    """The token handed to the core and the signal that set it (None: not interrupted)."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self.signum: int | None = None
        self._timer: threading.Timer | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 130)

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None:  # second signal, or the grace period ran out
            raise KeyboardInterrupt
        self.signum = signum
        self.token.set()
        self._timer = threading.Timer(GRACE_S, _thread.interrupt_main)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


@contextmanager
def cancel_on_signals() -> Iterator[Interrupt]:
    """Route SIGINT and SIGTERM to an Interrupt while the block runs (main thread only)."""
    state = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = {s: signal.signal(s, state._handle) for s in EXIT_CODES}
    try:
        yield state
    finally:
        state.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_if_work_abandoned(code: int) -> None:
    """Exit at once with ``code`` while a cancelled ITK registration still runs in a thread:
    a normal interpreter shutdown under it aborts the process ("terminate called ...")."""
    registration = sys.modules.get("fusionviewer.registration")
    if registration is None or not registration.abandoned_work():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
