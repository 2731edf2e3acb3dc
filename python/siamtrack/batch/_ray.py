"""The Ray engine: one actor per worker, each holding one `Worker` (ONNX Runtime and the model loaded once) and
reserving its encoder threads as CPUs; videos go to actors as they free up. Without an address it starts a local
Ray cluster on this machine and shuts it down at the end; with one it joins that cluster and leaves it running.

Importing this module imports Ray (``pip install "siamtrack[ray]"``)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import ray
import ray.exceptions

from ._pool import BatchError, Died, Outcome, WorkerPool
from ._worker import Job, Worker

# Seconds the actors have to load the model and say they are ready.
_START_TIMEOUT = 300.0

# What Ray raises for a task whose actor process died.
_DEATHS: Tuple[Type[BaseException], ...] = (
    ray.exceptions.RayActorError,
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.ObjectLostError,
)


class RayWorker:
    """The actor: a `Worker`, and what it has tracked of its current video (read from another thread)."""

    def __init__(self, threads: int, model: Optional[str]) -> None:
        self._worker = Worker(threads=threads, model=model)
        self._frames = 0
        self._count: Optional[int] = None

    def ready(self) -> str:
        """This worker's ``host:pid``, once the model is loaded."""
        return self._worker.name

    def track(self, job: Job) -> Dict[str, Any]:
        """`Worker.track` of `job`."""
        self._frames, self._count = 0, None

        def report(frames: int, count: Optional[int]) -> None:
            self._frames, self._count = frames, count

        return self._worker.track(job, report)

    @ray.method(concurrency_group="progress")
    def progress(self) -> Tuple[int, Optional[int]]:
        """(frames tracked of the current video, its frame count or None)."""
        return self._frames, self._count


def start_cluster(address: Optional[str]) -> int:
    """Joins the Ray cluster at `address`, or starts a local one when None; returns the cluster's CPUs."""
    options: Dict[str, Any] = dict(log_to_driver=False, logging_level=logging.WARNING)
    try:
        if address is None:
            ray.init(address="local", include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except Exception as error:  # noqa: BLE001 - Ray raises several kinds here
        where = "start a local Ray cluster" if address is None else f"join the Ray cluster at {address}"
        raise BatchError(f"cannot {where}: {error}") from error
    return int(ray.cluster_resources().get("CPU", 0))


def stop_cluster() -> None:
    """Leaves the cluster; a local cluster started by `start_cluster` stops with it."""
    if ray.is_initialized():
        ray.shutdown()


class RayPool(WorkerPool):
    """`workers` actors reserving `cpus` CPUs each and running `threads` encoder threads each."""

    def __init__(self, workers: int, threads: int, cpus: float, model: Optional[str] = None) -> None:
        super().__init__(workers, threads)
        self.model = model
        # progress() has a thread of its own, so that it answers while track() runs.
        self._actor_class = ray.remote(  # type: ignore[call-overload]
            num_cpus=cpus, max_restarts=0, concurrency_groups={"progress": 1}
        )(RayWorker)
        self._actors: Dict[int, Any] = {}
        self._tasks: Dict[int, Any] = {}
        self._asked: Dict[int, Any] = {}
        self._seen: Dict[int, Tuple[int, Optional[int]]] = {}

    def _spawn(self, slot: int) -> Any:
        actor = self._actor_class.remote(self.threads, self.model)
        self._actors[slot] = actor
        return actor

    def start(self, slots: int) -> None:
        ready = [self._spawn(slot).ready.remote() for slot in range(slots)]
        try:
            ray.get(ready, timeout=_START_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            raise BatchError(
                f"{slots} workers did not start within {_START_TIMEOUT:.0f} s: does the cluster have "
                "the CPUs they reserve?"
            ) from None
        except ray.exceptions.RayError as error:
            raise BatchError(f"the workers cannot start: {error}") from error

    def submit(self, slot: int, job: Job) -> None:
        self._seen.pop(slot, None)
        self._tasks[slot] = self._actors[slot].track.remote(job)

    def replace(self, slot: int) -> None:
        self._tasks.pop(slot, None)
        self._asked.pop(slot, None)
        dead = self._actors.pop(slot)
        try:
            ray.kill(dead, no_restart=True)
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        self._spawn(slot)

    def wait(self, busy: Sequence[int], timeout: float) -> List[Outcome]:
        tasks = {self._tasks[slot]: slot for slot in busy}
        if not tasks:
            return []
        ready, rest = ray.wait(list(tasks), num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        outcomes: List[Outcome] = []
        for task in ready:
            slot = tasks[task]
            del self._tasks[slot]
            try:
                outcomes.append((slot, ray.get(task)))
            except _DEATHS as error:
                outcomes.append((slot, Died(_first_line(error))))
            except ray.exceptions.RayTaskError as error:
                cause = error.cause if isinstance(error.cause, BaseException) else error
                outcomes.append((slot, Died(f"the worker raised {type(cause).__name__}: {cause}")))
            except ray.exceptions.RayError as error:
                outcomes.append((slot, Died(_first_line(error))))
        return outcomes

    def progress(self, busy: Sequence[int]) -> Dict[int, Tuple[int, Optional[int]]]:
        asked = {self._asked[slot]: slot for slot in busy if slot in self._asked}
        if asked:
            answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=0)
            for answer in answered:
                slot = asked[answer]
                del self._asked[slot]
                try:
                    self._seen[slot] = ray.get(answer)
                except ray.exceptions.RayError:
                    pass
        for slot in busy:
            if slot not in self._asked and slot in self._actors:
                self._asked[slot] = self._actors[slot].progress.remote()
        return {slot: self._seen[slot] for slot in busy if slot in self._seen}

    def close(self, abort: bool = False) -> None:
        if not abort and self._tasks:
            ray.wait(list(self._tasks.values()), num_returns=len(self._tasks), timeout=30)
        for actor in self._actors.values():
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors.clear()
        self._tasks.clear()
        self._asked.clear()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
