"""Tracking releases the GIL: other Python threads run while a tracker works, and trackers in different threads
work at the same time. The tests turn off the interpreter's forced thread switches, so that a thread holding the
GIL keeps it until it lets it go itself: another thread can then only run during a tracker call if that call let
the GIL go."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Iterator, Tuple

import numpy as np
import pytest
from conftest import Clip

import siamtrack

# (start, end) of one call, in time.perf_counter() seconds.
Interval = Tuple[float, float]


@pytest.fixture
def no_forced_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def timed(call: Callable[[np.ndarray], object], frames: list, intervals: list, results: list) -> None:
    for frame in frames:
        start = time.perf_counter()
        result = call(frame)
        intervals.append((start, time.perf_counter()))
        results.append(result)


def overlapping(ours: list[Interval], theirs: list[Interval]) -> int:
    """How many of `ours` overlap one of `theirs` in time."""
    return sum(any(a < d and c < b for c, d in theirs) for a, b in ours)


def calls(clip: Clip) -> dict[str, Callable[[np.ndarray], object]]:
    """Each releasing call, ready to take a frame (trackers on one encoder thread, leaving a core free)."""
    box = clip.boxes[0]
    tracker = siamtrack.Tracker(threads=1)
    tracker.init(clip.frames[0], box)
    targets = siamtrack.MultiTracker(threads=1)
    targets.add(clip.frames[0], box)
    adding = siamtrack.MultiTracker(threads=1)
    return {
        "Tracker.init": lambda frame: tracker.init(frame, box),
        "Tracker.update": tracker.update,
        "Tracker.track": tracker.track,
        "MultiTracker.add": lambda frame: adding.add(frame, box),
        "MultiTracker.update": targets.update,
    }


@pytest.mark.parametrize(
    "name", ["Tracker.init", "Tracker.update", "Tracker.track", "MultiTracker.add", "MultiTracker.update"]
)
def test_the_main_thread_runs_while_a_tracker_works(name: str, clip: Clip, no_forced_switches: None) -> None:
    call = calls(clip)[name]
    intervals: list[Interval] = []
    worker = threading.Thread(target=timed, args=(call, clip.frames[1:21], intervals, []))
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        # A short sleep lets the worker take the GIL back when its call returns.
        time.sleep(0.0002)
    worker.join()
    assert len(intervals) == 20
    # Were the GIL held, no tick could fall inside a call.
    calls_with_ticks = sum(any(a < t < b for t in ticks) for a, b in intervals)
    assert calls_with_ticks >= len(intervals) // 2


def test_two_trackers_in_two_threads_work_at_once(
    clip: Clip, reference: list[siamtrack.Track], no_forced_switches: None
) -> None:
    runs = []
    for _ in range(2):
        tracker = siamtrack.Tracker(threads=1)
        tracker.init(clip.frames[0], clip.boxes[0])
        intervals: list[Interval] = []
        tracks: list[siamtrack.Track] = []
        thread = threading.Thread(target=timed, args=(tracker.track, clip.frames[1:30], intervals, tracks))
        runs.append((thread, intervals, tracks))
    for thread, _, _ in runs:
        thread.start()
    for thread, _, _ in runs:
        thread.join()
    (_, first, first_tracks), (_, second, second_tracks) = runs
    # Side by side, each gives what it gives alone.
    assert first_tracks == reference
    assert second_tracks == reference
    # Were the GIL held, the first thread would finish all its updates before the second could start one.
    assert overlapping(first, second) >= len(first) // 2
    assert overlapping(second, first) >= len(second) // 2


def test_one_tracker_in_two_threads_refuses_the_second_call(clip: Clip, no_forced_switches: None) -> None:
    tracker = siamtrack.Tracker(threads=1)
    tracker.init(clip.frames[0], clip.boxes[0])
    errors: list[BaseException] = []
    done = []

    def feed() -> None:
        for frame in clip.frames[1:30]:
            try:
                done.append(tracker.track(frame))
            except BaseException as error:  # noqa: BLE001 - every failure is recorded and checked
                errors.append(error)

    threads = [threading.Thread(target=feed) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors, "two threads in one tracker never met"
    for error in errors:
        assert isinstance(error, RuntimeError)
        assert "working on a frame in another thread" in str(error)
    assert len(done) + len(errors) == 2 * 29
    # The tracker is still whole.
    assert tracker.track(clip.frames[30]).state in {"tracking", "uncertain", "lost"}
