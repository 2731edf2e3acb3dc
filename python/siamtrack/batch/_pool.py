"""The scheduling both engines share: videos handed to workers as they free up, a worker that dies replaced and its
video tried once more on another worker, and the frames each busy worker has tracked, for the progress bar.

An engine says how to start a worker in a slot, hand it a job, wait for results and read its progress;
`WorkerPool.results` does the rest."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple

from ._worker import Job

#: How many times a video is started at most when the workers tracking it die (once, then once more elsewhere).
ATTEMPTS = 2


class BatchError(RuntimeError):
    """The batch cannot run at all (no worker starts, the cluster cannot be reached)."""


@dataclass
class Died:
    """A worker's end before it returned a result: why, as far as it is known."""

    reason: str


#: What waiting gives: a slot and its worker's result, or Died.
Outcome = Tuple[int, Any]


class WorkerPool:
    """A fixed number of worker slots; subclasses start workers and talk to them."""

    def __init__(self, workers: int, threads: int) -> None:
        self.workers = workers
        self.threads = threads
        #: Called after a death with (job, attempt that died, reason, retried).
        self.on_death: Optional[Callable[[Job, int, str, bool], None]] = None
        #: When (time.monotonic()) every worker had started and loaded the model.
        self.ready_at: Optional[float] = None

    # What an engine implements.
    def start(self, slots: int) -> None:
        """Starts `slots` workers and waits until each is ready (BatchError when one cannot start)."""
        raise NotImplementedError

    def submit(self, slot: int, job: Job) -> None:
        """Hands `job` to the worker in `slot`."""
        raise NotImplementedError

    def wait(self, busy: Sequence[int], timeout: float) -> List[Outcome]:
        """The slots among `busy` whose worker finished (a result dict) or died (`Died`), waiting at most
        `timeout` seconds for the first."""
        raise NotImplementedError

    def replace(self, slot: int) -> None:
        """Starts a new worker in `slot`, whose worker died (without waiting for it to be ready)."""
        raise NotImplementedError

    def progress(self, busy: Sequence[int]) -> Dict[int, Tuple[int, Optional[int]]]:
        """Per busy slot: (frames tracked of its current video, that video's frame count or None)."""
        return {}

    def close(self, abort: bool = False) -> None:
        """Stops the workers: at once when `abort`, else after their current work."""
        raise NotImplementedError

    # The scheduling.
    def results(
        self, jobs: Sequence[Job], tick: Optional[Callable[[Dict[str, Tuple[int, Optional[int]]]], None]] = None
    ) -> Iterator[Tuple[Job, Dict[str, Any]]]:
        """Runs `jobs` over the workers, yielding ``(job, result)`` as each finishes, in the order they finish.

        A job whose worker dies is started once more, on another free worker when there is one (the dead one is
        replaced by a fresh process); a second death is its result (``ok`` False). `tick` is called every
        fraction of a second with the progress of the videos being tracked: per name, (frames tracked, frame
        count or None)."""
        if not jobs:
            return
        slots = min(self.workers, len(jobs))
        self.start(slots)
        self.ready_at = time.monotonic()
        deaths: Dict[str, List[str]] = {}
        pending: Deque[Tuple[Job, int, Optional[int]]] = deque((job, 1, None) for job in jobs)
        busy: Dict[int, Tuple[Job, int]] = {}
        idle: List[int] = list(range(slots))
        last_tick = 0.0
        while pending or busy:
            while pending and idle:
                job, attempt, avoid = pending.popleft()
                others = [slot for slot in idle if slot != avoid]
                slot = (others or idle)[0]
                idle.remove(slot)
                self.submit(slot, job)
                busy[slot] = (job, attempt)
            for slot, outcome in self.wait(list(busy), timeout=0.25):
                job, attempt = busy.pop(slot)
                if isinstance(outcome, Died):
                    self.replace(slot)
                    deaths.setdefault(job.name, []).append(outcome.reason)
                    retry = attempt < ATTEMPTS
                    if self.on_death is not None:
                        self.on_death(job, attempt, outcome.reason, retry)
                    if retry:
                        pending.appendleft((job, attempt + 1, slot))
                    else:
                        yield job, died_result(job, deaths[job.name])
                else:
                    outcome["attempts"] = attempt
                    outcome["worker_deaths"] = deaths.get(job.name, [])
                    yield job, outcome
                idle.append(slot)
            now = time.monotonic()
            if tick is not None and now - last_tick >= 0.25:
                last_tick = now
                tick({busy[slot][0].name: seen for slot, seen in self.progress(list(busy)).items() if slot in busy})


def died_result(job: Job, reasons: List[str]) -> Dict[str, Any]:
    """The result of a job whose workers died on every attempt (`reasons`: why, one per attempt)."""
    return {
        "ok": False,
        "error": f"the worker died on each of {len(reasons)} attempts; last: {reasons[-1]}",
        "frames": 0,
        "frame_count": None,
        "frame_rate": None,
        "seconds": 0.0,
        "states": [{"tracking": 0, "uncertain": 0, "lost": 0} for _ in job.boxes],
        "worker": None,
        "log": None,
        "attempts": len(reasons),
        "worker_deaths": list(reasons),
    }
