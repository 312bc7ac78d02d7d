"""Shared helpers of the loaders and writers: size limits, one-line messages, quiet native code
(the output guard is io/guard.py)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InputError

# Refuse images above this many voxels (colour channels included) before reading pixel data:
# 2**30 voxels is 1 GiB at 8 bits and 4 GiB as float32, far beyond any CT/MR/PET study.
MAX_VOXELS = 2 ** 30


def check_voxel_count(count: int, path: str | Path) -> None:
    """Raise InputError if an image of ``count`` voxels is too large to load."""
    if count > MAX_VOXELS:
        raise InputError(f"image too large: {count} voxels exceeds the limit of {MAX_VOXELS} "
                         "(2**30)", str(path))


def one_line(exc: BaseException | str, limit: int = 240) -> str:
    """An exception as one line, cut at a sentence or word end ("…") beyond ``limit`` chars."""
    text = " ".join(str(exc).split())
    if not text and isinstance(exc, BaseException):
        text = exc.__class__.__name__
    if len(text) <= limit:
        return text
    head = text[:limit]
    for stop in (". ", "; ", " - ", ", "):
        cut = head.rfind(stop)
        if cut > limit // 2:
            return head[:cut].rstrip(".;,- ") + " …"
    return head[:max(head.rfind(" "), limit // 2)].rstrip() + " …"


def human_bytes(count: float) -> str:
    """A byte count as '512 B', '1.3 KiB', '3.4 GiB'."""
    if count < 1024:
        return f"{int(count)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        count /= 1024.0
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if count < 10 else f"{count:.0f} {unit}"
    raise AssertionError("unreachable")


class Captured:
    """Text that native code (ITK, GDCM, openjpeg...) and Python warnings emitted in a block."""

    def __init__(self) -> None:
        self.stderr = ""
        self.warnings: list[str] = []

    def text(self) -> str:
        """All captured text as one line (stderr first, then warnings)."""
        return " ".join(" ".join([self.stderr] + self.warnings).split())


_LIBRARY_LOGGERS = ("nibabel", "nibabel.global", "pydicom", "highdicom")
_CAPTURE_LOCK = threading.RLock()


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@contextmanager
def _quiet_loggers(sink: list[str]) -> Iterator[None]:
    """Route the library loggers (they print to stderr) into ``sink`` inside the block."""
    saved = []
    handler = _ListHandler(sink)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers[:] = [handler]
        logger.propagate = False
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers[:] = handlers
            logger.propagate = propagate
_capturing = threading.local()


def _flush_stderr() -> None:
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # None (pythonw) or closed
        pass


@contextmanager
def quiet_native() -> Iterator[Captured]:
    """Capture file descriptor 2 and Python warnings inside the block instead of showing them."""
    captured = Captured()
    logged: list[str] = []
    with _CAPTURE_LOCK, warnings.catch_warnings(record=True) as caught, _quiet_loggers(logged):
        warnings.simplefilter("always")
        nested = getattr(_capturing, "on", False)
        saved = None
        if not nested:
            try:
                _flush_stderr()
                saved = os.dup(2)
            except OSError:  # no fd 2 (a windowed app): nothing native can print anyway
                saved = None
        tmp = tempfile.TemporaryFile() if saved is not None else None
        if tmp is not None:
            os.dup2(tmp.fileno(), 2)
        _capturing.on = True
        try:
            yield captured
        finally:
            _capturing.on = nested
            if tmp is not None:
                _flush_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                captured.stderr = tmp.read(65536).decode("utf-8", "replace").strip()
                tmp.close()
            captured.warnings = [str(w.message) for w in caught] + logged
