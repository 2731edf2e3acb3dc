"""What a batch worker does with one video: read its frames as ``siamtrack track`` reads them, track its targets
with one `MultiTracker`, and write the command line's CSV log of it (as text, which the driver saves).

This module runs in the worker processes (a process of the local pool or a Ray actor); it imports OpenCV."""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple

import numpy as np

from .. import MultiTracker, Track, _image_files, _import_cv2

#: The header of the command line's CSV log (``siamtrack track --log x.csv``).
LOG_HEADER = "frame,timestamp_ms,x,y,w,h,score,state,target"

#: The frame rate the command line gives image folders, and video files that do not tell theirs.
DEFAULT_FPS = 30.0

#: A box: ``(x, y, w, h)``, 0-based pixels.
Box = Tuple[float, float, float, float]

#: Called as frames are tracked: (frames tracked so far, the input's frame count or None).
ProgressCallback = Callable[[int, Optional[int]], None]

# Fault injection for the tests: a worker about to track the video named by the first variable exits part way
# through it, as a crashed process would; with the second variable set, only when it can create the marker file
# that variable names (so: once in all), else every time.
_EXIT_ON_NAME = "SIAMTRACK_BATCH_TEST_EXIT_ON"
_EXIT_MARKER = "SIAMTRACK_BATCH_TEST_EXIT_MARKER"


@dataclass(frozen=True)
class Job:
    """One video to track: the name of its outputs, its input and its targets' first boxes.

    `input` is a video file, an image folder (an OTB sequence folder's ``img/`` is found) or a stream URL;
    `boxes` holds one ``(x, y, w, h)`` per target (0-based pixels, on the first frame), targets numbered 1, 2, ...
    in this order. `error` is a problem found in the manifest (a bad box, an unreadable ground truth): the job is
    then reported as failed without being tracked. `lines` are the manifest's line numbers that made the job.
    """

    name: str
    input: str
    boxes: Tuple[Box, ...]
    error: Optional[str] = None
    lines: Tuple[int, ...] = ()


def rust_round(value: float, decimals: int) -> float:
    """`value` rounded as the command line rounds log values: ``(value * 10^d).round() / 10^d`` in doubles, halves
    away from zero (Rust's ``f64::round``)."""
    factor = 10.0**decimals
    scaled = value * factor
    if not math.isfinite(scaled):
        return value
    whole = math.floor(abs(scaled))
    if abs(scaled) - whole >= 0.5:  # exact: the fraction of a double is a double
        whole += 1
    return math.copysign(whole, scaled) / factor


def _f64_text(value: float) -> str:
    """A double as Rust's ``{}`` writes it: the shortest digits that read back to it, never an exponent."""
    return np.format_float_positional(np.float64(value), unique=True, trim="-")


def _f32_text(value: float) -> str:
    """A single-precision float as Rust's ``{}`` writes an ``f32``."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def log_rows(frame: int, timestamp_ms: float, tracks: Sequence[Track]) -> str:
    """One frame's rows of the command line's CSV log, each ending in a newline: the box to 2 decimals, the score
    to 4 (then as an ``f32``), the timestamp to 3, targets numbered from 1 in the order given."""
    stamp = _f64_text(rust_round(timestamp_ms, 3))
    rows = []
    for target, track in enumerate(tracks, start=1):
        box = ",".join(_f64_text(rust_round(v, 2)) for v in (track.x, track.y, track.w, track.h))
        score = _f32_text(rust_round(track.score, 4))
        rows.append(f"{frame},{stamp},{box},{score},{track.state},{target}\n")
    return "".join(rows)


class Source:
    """The frames of an input as ``siamtrack track`` reads them: BGR arrays, with the command line's timestamps
    (frame index / frame rate for files and folders, milliseconds since opening for streams) and frame count."""

    def __init__(self, cv2: Any, spec: str) -> None:
        self._cv2 = cv2
        self.spec = spec
        self.live = "://" in spec
        self._capture: Any = None
        self._images: Optional[List[Path]] = None
        self.fps = DEFAULT_FPS
        self.frame_count: Optional[int] = None
        path = Path(spec)
        if not self.live and path.is_dir():
            self._images = _image_files(path)
            self.frame_count = len(self._images)
        elif self.live or path.is_file():
            self._capture = cv2.VideoCapture(spec, cv2.CAP_ANY)
            if not self._capture.isOpened():
                self._capture.release()
                if self.live:
                    raise OSError(f"cannot open stream {spec}")
                raise OSError(f"cannot open {spec} as a video (not a video file, or an unsupported format)")
            fps = float(self._capture.get(cv2.CAP_PROP_FPS))
            self.fps = fps if fps > 0.0 else DEFAULT_FPS
            count = float(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.frame_count = int(count) if not self.live and count > 0.0 else None
        else:
            raise FileNotFoundError(f"input {spec} not found")
        self._opened = time.perf_counter()

    def frames(self) -> Generator[Tuple[int, float, "np.ndarray[Any, Any]"], None, None]:
        """``(index, timestamp_ms, frame)`` for every frame; a frame that cannot be decoded raises OSError."""
        cv2 = self._cv2
        index = 0
        try:
            while True:
                if self._images is not None:
                    if index >= len(self._images):
                        return
                    image = cv2.imread(str(self._images[index]), cv2.IMREAD_COLOR)
                    if image is None or image.size == 0:
                        raise OSError(f"cannot decode image {self._images[index]} (frame {index})")
                else:
                    ok, image = self._capture.read()
                    if not ok or image is None or image.size == 0:
                        if self.frame_count is not None and index + 1 < self.frame_count:
                            raise OSError(
                                f"{self.spec}: frame {index} of {self.frame_count} cannot be decoded "
                                "(truncated or corrupt video)"
                            )
                        return
                if self.live:
                    timestamp = (time.perf_counter() - self._opened) * 1000.0
                else:
                    timestamp = index * 1000.0 / self.fps
                yield index, timestamp, _to_bgr(cv2, image)
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        """Releases the video capture (nothing for a folder)."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _to_bgr(cv2: Any, image: "np.ndarray[Any, Any]") -> "np.ndarray[Any, Any]":
    # As the command line: grey and BGRA frames become BGR.
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _maybe_exit_for_test(name: str) -> bool:
    """Whether this worker is to die on `name` (the tests' fault injection; see _EXIT_ON_NAME)."""
    if os.environ.get(_EXIT_ON_NAME) != name:
        return False
    marker = os.environ.get(_EXIT_MARKER)
    if not marker:
        return True
    try:
        with open(marker, "x") as file:
            file.write(f"{worker_name()}\n")
    except FileExistsError:
        return False
    return True


def worker_name() -> str:
    """This process as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Tracks videos one after the other in one process: loads ONNX Runtime and the model once (each video then
    gets its own `MultiTracker` over the loaded library, so that its results do not depend on the videos before
    it), with `threads` encoder threads."""

    def __init__(self, threads: int = 1, model: Optional[str] = None) -> None:
        self.threads = threads
        self.model = model
        self._cv2 = _import_cv2()
        if threads > 0:
            self._cv2.setNumThreads(threads)
        # Loads the runtime library and the model now, so that a missing library fails here, once.
        MultiTracker(model=model, threads=threads)
        self.name = worker_name()

    def track(self, job: Job, progress: Optional[ProgressCallback] = None) -> Dict[str, Any]:
        """Tracks `job`; returns its result: ``ok``, ``error``, ``frames`` (tracked), ``frame_count`` and
        ``frame_rate`` (the input's, where known), ``seconds`` (from opening the input to its last frame),
        ``states`` (per target: frames tracking, uncertain and lost), ``worker`` and ``log`` (the CSV text,
        holding the frames tracked before any error; None when not even the first frame was). Problems with the
        input are caught and reported in ``error``."""
        started = time.perf_counter()
        result: Dict[str, Any] = {
            "ok": False,
            "error": None,
            "frames": 0,
            "frame_count": None,
            "frame_rate": None,
            "seconds": 0.0,
            "states": [{"tracking": 0, "uncertain": 0, "lost": 0} for _ in job.boxes],
            "worker": self.name,
            "log": None,
        }
        rows: List[str] = [LOG_HEADER + "\n"]
        exit_after = 3 if _maybe_exit_for_test(job.name) else None
        frames: Optional[Generator[Tuple[int, float, "np.ndarray[Any, Any]"], None, None]] = None
        try:
            if job.error is not None:
                raise ValueError(job.error)
            source = Source(self._cv2, job.input)
            result["frame_count"] = source.frame_count
            result["frame_rate"] = None if source.live else source.fps
            frames = source.frames()
            tracker = MultiTracker(model=self.model, threads=self.threads)
            first = next(frames, None)
            if first is None:
                raise ValueError(f"{job.input} has no frames")
            index, timestamp, image = first
            given = []
            for target, box in enumerate(job.boxes, start=1):
                try:
                    tracker.add(image, box)
                except (TypeError, ValueError) as error:
                    raise ValueError(f"cannot start tracking target {target}: {error}") from None
                given.append(Track(*box, score=1.0, state="tracking", id=target))
            self._record(result, rows, index, timestamp, given, progress)
            for index, timestamp, image in frames:
                if exit_after is not None and result["frames"] >= exit_after:
                    os._exit(70)
                try:
                    tracks = tracker.update(image)
                except Exception as error:  # noqa: BLE001 - reported as the command line reports it
                    raise RuntimeError(f"tracking failed at frame {index}: {error}") from None
                self._record(result, rows, index, timestamp, tracks, progress)
            result["ok"] = True
        except Exception as error:  # noqa: BLE001 - an input's failure is its result; the batch goes on
            result["error"] = str(error) or type(error).__name__
        finally:
            if frames is not None:
                frames.close()  # releases the video
        result["seconds"] = time.perf_counter() - started
        if result["frames"] > 0:
            result["log"] = "".join(rows)
        return result

    @staticmethod
    def _record(
        result: Dict[str, Any],
        rows: List[str],
        index: int,
        timestamp: float,
        tracks: Sequence[Track],
        progress: Optional[ProgressCallback],
    ) -> None:
        rows.append(log_rows(index, timestamp, tracks))
        for counts, track in zip(result["states"], tracks):
            counts[track.state] += 1
        result["frames"] += 1
        if progress is not None:
            progress(result["frames"], result["frame_count"])
