"""The local engine: a pool of worker processes on this machine (started fresh, not forked), each holding one
`Worker`, talking to the driver over a pipe; the frames each has tracked are kept in shared memory for the
progress bar."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._pool import BatchError, Died, Outcome, WorkerPool
from ._worker import Job, Worker

# Seconds a worker has to load the model and say it is ready, and to leave once told to.
_START_TIMEOUT = 120.0
_STOP_TIMEOUT = 10.0


def _serve(connection: Any, threads: int, model: Optional[str], progress: Any, slot: int) -> None:
    """A worker process: loads the model, then tracks each job it is sent until it is sent None."""
    # Ctrl-C reaches the whole process group: the driver alone decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        worker = Worker(threads=threads, model=model)
    except Exception as error:  # noqa: BLE001 - sent to the driver, which stops the batch
        connection.send(("failed", f"{error}\n{traceback.format_exc()}"))
        return
    connection.send(("ready", worker.name))

    def report(frames: int, count: Optional[int]) -> None:
        progress[2 * slot] = frames
        progress[2 * slot + 1] = -1 if count is None else count

    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            return
        report(0, None)
        connection.send(("result", worker.track(job, report)))


class LocalPool(WorkerPool):
    """`workers` processes of `threads` encoder threads each."""

    def __init__(self, workers: int, threads: int, model: Optional[str] = None) -> None:
        super().__init__(workers, threads)
        self.model = model
        self._context = multiprocessing.get_context("spawn")
        self._progress: Any = None
        self._processes: Dict[int, Any] = {}
        self._connections: Dict[int, Any] = {}

    def _spawn(self, slot: int) -> None:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve,
            args=(theirs, self.threads, self.model, self._progress, slot),
            name=f"siamtrack-batch-{slot}",
            daemon=True,
        )
        process.start()
        theirs.close()
        self._processes[slot] = process
        self._connections[slot] = ours

    def start(self, slots: int) -> None:
        self._progress = self._context.Array("q", 2 * slots, lock=False)
        for slot in range(slots):
            self._spawn(slot)
        for slot in range(slots):
            connection = self._connections[slot]
            if not connection.poll(_START_TIMEOUT):
                raise BatchError(f"worker {slot} did not start within {_START_TIMEOUT:.0f} s")
            try:
                kind, detail = connection.recv()
            except EOFError:
                raise BatchError(f"worker {slot} exited while starting") from None
            if kind != "ready":
                raise BatchError(f"worker {slot} cannot start: {detail}")

    def submit(self, slot: int, job: Job) -> None:
        self._progress[2 * slot] = 0
        self._progress[2 * slot + 1] = -1
        self._connections[slot].send(job)

    def replace(self, slot: int) -> None:
        self._connections.pop(slot).close()
        process = self._processes.pop(slot)
        process.join(_STOP_TIMEOUT)
        self._spawn(slot)

    def wait(self, busy: Sequence[int], timeout: float) -> List[Outcome]:
        handles: Dict[Any, int] = {}
        for slot in busy:
            handles[self._connections[slot]] = slot
            handles[self._processes[slot].sentinel] = slot
        ready = multiprocessing.connection.wait(list(handles), timeout)
        outcomes: List[Outcome] = []
        for slot in sorted({handles[handle] for handle in ready}):
            outcome = self._receive(slot)
            if outcome is not None:
                outcomes.append((slot, outcome))
        return outcomes

    def _receive(self, slot: int) -> Any:
        """The slot's result, Died, or None when it has only said it is ready (a replacement)."""
        connection = self._connections[slot]
        process = self._processes[slot]
        while True:
            try:
                if not connection.poll():
                    if process.is_alive():
                        return None
                    process.join(_STOP_TIMEOUT)
                    return Died(f"worker process {process.pid} exited with status {process.exitcode}")
                kind, detail = connection.recv()
            except (EOFError, OSError):
                process.join(_STOP_TIMEOUT)
                return Died(f"worker process {process.pid} exited with status {process.exitcode}")
            if kind == "result":
                return detail
            if kind == "failed":
                process.join(_STOP_TIMEOUT)
                return Died(f"worker process {process.pid} could not start: {detail}")
            # "ready": a replacement worker has started; its result is still to come.

    def progress(self, busy: Sequence[int]) -> Dict[int, Tuple[int, Optional[int]]]:
        if self._progress is None:
            return {}
        out: Dict[int, Tuple[int, Optional[int]]] = {}
        for slot in busy:
            frames, count = self._progress[2 * slot], self._progress[2 * slot + 1]
            out[slot] = (int(frames), None if count < 0 else int(count))
        return out

    def close(self, abort: bool = False) -> None:
        if not abort:
            for connection in self._connections.values():
                try:
                    connection.send(None)
                except OSError:
                    pass
            for process in self._processes.values():
                process.join(_STOP_TIMEOUT)
        for process in self._processes.values():
            if process.is_alive():
                process.terminate()
        for process in self._processes.values():
            process.join(_STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        for connection in self._connections.values():
            connection.close()
        self._processes.clear()
        self._connections.clear()
