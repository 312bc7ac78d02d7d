"""Batch pairs on Dask's distributed engine: one task per pair running the serial batch's
``fuse_pair``; rows come back to the client, which alone writes ``summary.csv``.

Dask is optional (``pip install fusionviewer[cluster]``) and imported only here. Workers read
the inputs and write the outputs themselves (paths must mean the same files on every worker:
a shared filesystem), through the same output guard. A task whose worker dies is retried once
(``ALLOWED_FAILURES``), then its pair is "failed". A cancel stops the queued tasks, tells the
running ones through a Dask Event (they stop at their next cancel check, nothing half-written)
and closes a local cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import Cancelled, InputError
from ..progress import ProgressCallback, report
from .batch import BatchPair, BatchRow, fuse_pair
from .options import FusionOptions

ALLOWED_FAILURES = 1  # worker deaths a task may see and be rerun (then KilledWorker: "failed")
POLL_S = 0.05  # how often the client looks for finished tasks and for a cancel, seconds
CANCEL_GRACE_S = 0.3  # after a cancel, how long the client still collects returning tasks, s
REMOTE_CHECK_S = 0.2  # how often a task asks the scheduler whether the run was cancelled, s
ABANDONED_WAIT_S = 1.0  # how long a cancelled task waits for its ITK thread to stop, seconds
CONNECT_S = 10  # timeout for reaching a scheduler given with --cluster, seconds
INSTALL_HINT = "pip install 'fusionviewer[cluster]'"


def check_engine(workers: int | None, cluster: str | None) -> None:
    """InputError for a bad choice (both, fewer than one worker) or without Dask installed."""
    if workers is not None and cluster is not None:
        raise InputError("give --workers (a cluster on this machine) or --cluster (an existing "
                         "Dask scheduler), not both")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if cluster is not None and not cluster.strip():
        raise InputError("--cluster needs a scheduler address, e.g. tcp://scheduler:8786")
    _distributed()


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError(f"running on Dask workers needs Dask installed: {INSTALL_HINT}") from None
    return distributed


@contextmanager
def dask_client(workers: int | None = None, cluster: str | None = None) -> Iterator:
    """A Dask Client: on a new local cluster of ``workers`` processes with one thread each
    (closed on exit), or on the scheduler at ``cluster`` (left running)."""
    check_engine(workers, cluster)
    distributed = _distributed()
    if cluster is not None:
        try:
            client = distributed.Client(cluster, timeout=CONNECT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler ({_first_line(exc)})",
                             cluster) from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    # Each worker holds only the task it runs, so a worker's death blames that task alone;
    # idle OpenMP threads sleep instead of spinning on cores the other workers need.
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.nanny.pre-spawn-environ.OMP_WAIT_POLICY": "PASSIVE"}):
        local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR)
    try:
        client = distributed.Client(local, set_as_default=False)
    except BaseException:
        local.close()
        raise
    try:
        yield client
    finally:
        try:
            client.close()
            local.close()
        except KeyboardInterrupt:  # the CLI's grace timer after Ctrl-C: finish closing first
            local.close()
            raise


def run_on_dask(client, pairs: list[BatchPair], rows: dict[str, BatchRow], out_dir: Path,
                options: FusionOptions, *, fmt: str | None, force: bool, with_metrics: bool,
                progress: ProgressCallback | None = None, cancel=None) -> None:
    """Submit one task per pair and fill ``rows`` as they finish; Cancelled on ``cancel``."""
    distributed = _distributed()
    run_id = uuid.uuid4().hex[:12]
    stop = distributed.Event(f"fusionviewer-cancel-{run_id}", client=client)
    threads = serial_torch_threads(options)
    futures = {}
    for i, pair in enumerate(pairs):
        future = client.submit(fuse_pair_task, pair, str(out_dir), options, fmt, force,
                               with_metrics, threads, stop.name, pure=False,
                               key=f"fusionviewer-{run_id}-{i:06d}-{pair.name}")
        futures[future] = pair.name
    # results are fetched as soon as a task ends: a worker dying later cannot lose them
    pending = distributed.as_completed(list(futures), loop=client.loop, with_results=True,
                                       raise_errors=False)
    done = 0
    report(progress, "fusing", 0.0)
    while not pending.is_empty():
        if cancel is not None and cancel.is_set():
            _cancel_run(client, stop, pending, futures, rows)
            raise Cancelled("batch cancelled")
        finished = pending.next_batch(block=False)
        if not finished:
            time.sleep(POLL_S)
            continue
        for future, result in finished:
            _record(future, result, futures.pop(future), rows)
            done += 1
        report(progress, "fusing", done / max(len(pairs), 1))


def fuse_pair_task(pair: BatchPair, out_dir: str, options: FusionOptions, fmt: str | None,
                   force: bool, with_metrics: bool, torch_threads: int | None,
                   stop_name: str) -> BatchRow:
    """One pair on a Dask worker: ``fuse_pair`` with the client's cancel; a small row back."""
    _limit_threads(torch_threads)
    try:
        row = fuse_pair(pair, Path(out_dir), options, fmt, force, with_metrics,
                        cancel=_RemoteCancel(stop_name))
    except Cancelled:
        row = pair.new_row()
        _join_abandoned(ABANDONED_WAIT_S)
    row.worker = f"{socket.gethostname()}:{os.getpid()}"
    return row


def _join_abandoned(timeout: float) -> None:
    """Let a cancelled registration's ITK thread reach its stop (StopRegistration was asked):
    a worker process closing under it aborts ("terminate called ...")."""
    registration = sys.modules.get("fusionviewer.registration")
    deadline = time.monotonic() + timeout
    for thread in list(getattr(registration, "ABANDONED", ())):
        thread.join(max(0.0, deadline - time.monotonic()))


def serial_torch_threads(options: FusionOptions) -> int | None:
    """PyTorch's thread count in this process (what the serial batch's CNN would use), or
    None when the method is not the CNN.

    Workers use it too: single-threaded, PyTorch picks another convolution kernel for small
    batches (outputs then differ in the 7th digit), so this keeps outputs byte-identical to
    the serial batch on this machine. Set ``FUSIONVIEWER_THREADS`` to choose it."""
    if options.method != "cnn":
        return None
    threads = os.environ.get("FUSIONVIEWER_THREADS")
    if threads:
        return max(1, int(threads))
    import torch

    return torch.get_num_threads()


def _limit_threads(torch_threads: int | None) -> None:
    """One ITK thread per task (a worker has one Dask thread); PyTorch as the client says."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    if torch_threads:
        import torch

        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)


class _RemoteCancel:
    """The client's cancel as a task sees it: the run's Dask Event, asked at most every
    REMOTE_CHECK_S; a scheduler that cannot be reached counts as a cancel."""

    def __init__(self, name: str):
        self.name = name
        self._event = None
        self._set = False
        self._asked = float("-inf")

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._asked >= REMOTE_CHECK_S:
            self._asked = now
            try:
                if self._event is None:
                    from distributed import Event

                    self._event = Event(self.name)
                self._set = bool(self._event.is_set())
            except Exception:  # noqa: BLE001 - no scheduler: nobody waits for this result
                self._set = True
        return self._set


def _record(future, result, name: str, rows: dict[str, BatchRow]) -> None:
    """A finished task's row into ``rows``: its own row, or "failed" with why the task died
    (``result``: the row, or (type, exception, traceback) of an error)."""
    row = rows[name]
    if future.status == "finished" and isinstance(result, BatchRow):
        rows[name] = result
    elif future.status == "error":
        exc = result[1] if isinstance(result, tuple) else result
        row.status = "failed"
        if type(exc).__name__ == "KilledWorker":
            row.message = (f"the worker running it died {ALLOWED_FAILURES + 1} times "
                           "(out of memory or killed?)")
        else:
            row.message = f"{type(exc).__name__}: {_first_line(exc)}"
    future.release()


def _cancel_run(client, stop, pending, futures: dict, rows: dict[str, BatchRow]) -> None:
    """Tell running tasks to stop, collect what returns within CANCEL_GRACE_S, cancel the
    rest (their rows stay "cancelled")."""
    try:
        stop.set()
        running = {key for keys in client.processing().values() for key in keys}
        client.cancel([f for f in futures if f.key not in running])
    except Exception:  # noqa: BLE001 - the scheduler is gone: nothing runs any more
        return
    deadline = time.monotonic() + CANCEL_GRACE_S
    while not pending.is_empty() and time.monotonic() < deadline:
        for future, result in pending.next_batch(block=False):
            _record(future, result, futures.pop(future), rows)
        time.sleep(POLL_S)
    try:
        client.cancel(list(futures))
    except Exception:  # noqa: BLE001
        pass


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


__all__ = ["ALLOWED_FAILURES", "check_engine", "dask_client", "fuse_pair_task", "run_on_dask",
           "serial_torch_threads"]
