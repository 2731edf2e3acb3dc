"""siamtrack: a real-time video object tracker (a Siamese encoder in ONNX Runtime, the rest in Rust).

It follows OpenCV's tracker interface: frames are numpy arrays of shape (height, width, 3) and dtype uint8, BGR
by default, and boxes are ``(x, y, w, h)`` in pixels, 0-based, top-left corner::

    import siamtrack
    tracker = siamtrack.Tracker()
    tracker.init(frame, (x, y, w, h))
    ok, (x, y, w, h) = tracker.update(next_frame)

``MultiTracker`` follows several targets over one encoder, and ``track_video`` tracks a video file, an image
folder or a camera read with OpenCV. The shipped models are built into the library; ONNX Runtime comes from the
installed ``onnxruntime`` (or ``onnxruntime-gpu``) package, or from the library that ``ORT_DYLIB_PATH`` names.
``python -m siamtrack.batch`` tracks many videos at once, on this machine's cores or a Ray cluster
(`siamtrack.batch`).
"""

from __future__ import annotations

import importlib.util
import numbers
import os
from pathlib import Path
from typing import Any, Iterator, List, Sequence, SupportsFloat, Tuple, Union

import numpy as np

from . import _siamtrack
from ._siamtrack import DEFAULT_MODEL, SHIPPED_MODELS, MultiTracker, Track, Tracker, __version__

__all__ = [
    "DEFAULT_MODEL",
    "SHIPPED_MODELS",
    "MultiTracker",
    "Track",
    "Tracker",
    "__version__",
    "track_video",
]

#: A box: ``(x, y, w, h)`` in pixels, 0-based, top-left corner (any sequence of 4 numbers).
_Box = Union[Sequence[SupportsFloat], "np.ndarray[Any, Any]"]

#: A frame source for `track_video`: a file, folder or URL, or a camera's index.
_Source = Union[str, "os.PathLike[str]", int]

# The names an ONNX Runtime library has in the onnxruntime wheels' capi/ folder (Linux, macOS, Windows).
_RUNTIME_LIBRARY_NAMES = ("libonnxruntime.so*", "libonnxruntime*.dylib", "onnxruntime.dll")

# The image files an image folder is read from, as the command line reads them.
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


def _runtime_library() -> Path | None:
    """The ONNX Runtime library inside the installed onnxruntime package, found without importing it."""
    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        capi = Path(folder) / "capi"
        for pattern in _RUNTIME_LIBRARY_NAMES:
            # The shortest name first: libonnxruntime.so before any versioned twin (the same file).
            for library in sorted(capi.glob(pattern), key=lambda p: (len(p.name), p.name)):
                if library.is_file():
                    return library.resolve()
    return None


def _load_runtime_library() -> None:
    # ORT_DYLIB_PATH, when set, is read by the core itself.
    if os.environ.get("ORT_DYLIB_PATH"):
        return
    library = _runtime_library()
    if library is not None:
        _siamtrack.set_runtime_library(str(library))


_load_runtime_library()


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            "siamtrack.track_video reads frames with OpenCV: pip install opencv-python-headless "
            "(or opencv-python), or read the frames yourself and call Tracker.update"
        ) from error
    return cv2


def _image_files(folder: Path) -> List[Path]:
    # An OTB sequence folder keeps its frames in img/.
    if (folder / "img").is_dir():
        folder = folder / "img"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no image files in {folder}")
    return files


def _frames(cv2: Any, source: _Source) -> Iterator[np.ndarray[Any, Any]]:
    """The frames of `source` as BGR arrays: a camera index, an image folder, or a video file or stream URL.

    A missing file or folder without images raises here, before the first frame is asked for."""
    if not isinstance(source, int):
        path = Path(source)
        if path.is_dir():
            return _image_frames(cv2, _image_files(path))
        if "://" not in str(source) and not path.exists():
            raise FileNotFoundError(f"no such video file: {source}")
        source = str(source)
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise OSError(f"OpenCV cannot open {source}")
    return _captured_frames(capture)


def _image_frames(cv2: Any, files: List[Path]) -> Iterator[np.ndarray[Any, Any]]:
    for file in files:
        frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if frame is None:
            raise OSError(f"cannot read image {file}")
        yield frame


def _captured_frames(capture: Any) -> Iterator[np.ndarray[Any, Any]]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def track_video(
    source: _Source,
    boxes: Union[Sequence[_Box], _Box],
    *,
    model: Union[str, "os.PathLike[str]", None] = None,
    threads: int = 0,
    device: str = "cpu",
) -> Iterator[Tuple[int, List[Track]]]:
    """Tracks the targets in `boxes` through `source`, yielding ``(index, tracks)`` for every frame.

    `source` is a video file or stream URL, a folder of images (an OTB sequence folder's ``img/`` is found) or
    a camera index; frames are read with OpenCV (``cv2``), which must be installed (ImportError otherwise).
    `boxes` holds one box ``(x, y, w, h)`` per target, on the first frame (a single box of 4 numbers is taken
    as one target). `index` counts frames from 0; `tracks` is one `Track` per target, ids 1, 2, ... in the
    order of `boxes`. Frame 0 yields the given boxes (score 1.0, state "tracking"), as the command line's log
    does. `model`, `threads` and `device` are those of `MultiTracker`. A missing source raises
    FileNotFoundError at the call; the first frame is read, and the trackers made, on the first iteration.
    """
    cv2 = _import_cv2()
    targets: List[_Box]
    if len(boxes) == 4 and all(isinstance(value, numbers.Real) for value in boxes):
        targets = [boxes]  # type: ignore[list-item]  # one box of 4 numbers
    else:
        targets = list(boxes)  # type: ignore[arg-type]  # a box per target
    if not targets:
        raise ValueError("track_video needs at least one box")
    return _track_frames(_frames(cv2, source), source, targets, model, threads, device)


def _track_frames(
    frames: Iterator[np.ndarray[Any, Any]],
    source: _Source,
    boxes: List[_Box],
    model: Union[str, "os.PathLike[str]", None],
    threads: int,
    device: str,
) -> Iterator[Tuple[int, List[Track]]]:
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{source} holds no frame")
    targets = MultiTracker(model=model, threads=threads, device=device)
    given = []
    for box in boxes:
        target = targets.add(first, box)
        x, y, w, h = (float(value) for value in box)
        given.append(Track(x, y, w, h, score=1.0, state="tracking", id=target))
    yield 0, given
    for index, frame in enumerate(frames, start=1):
        yield index, targets.update(frame)
