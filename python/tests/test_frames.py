"""Frames in any numpy layout give the results of the packed BGR frame; strided views are read in place; frames
and boxes that cannot be tracked on raise the documented exceptions with messages that say what was given."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Clip, track_frames

import siamtrack
from siamtrack import _siamtrack


def embedded(frame: np.ndarray, top: int, left: int) -> np.ndarray:
    """`frame` as a crop view of a larger frame."""
    height, width, _ = frame.shape
    larger = np.zeros((height + top + 17, width + left + 23, 3), np.uint8)
    larger[top : top + height, left : left + width] = frame
    return larger[top : top + height, left : left + width]


def spread(frame: np.ndarray) -> np.ndarray:
    """`frame` as every second pixel of every second row of a frame twice its size."""
    height, width, _ = frame.shape
    larger = np.full((2 * height, 2 * width, 3), 255, np.uint8)
    larger[::2, ::2] = frame
    return larger[::2, ::2]


LAYOUTS = {
    "crop view": (lambda f: embedded(f, 10, 20), "bgr", True),
    "every second pixel": (spread, "bgr", True),
    "pixels padded to 4 bytes": (lambda f: np.pad(f, ((0, 0), (0, 0), (0, 1)))[:, :, :3], "bgr", True),
    "rgb": (lambda f: np.ascontiguousarray(f[:, :, ::-1]), "rgb", True),
    "rgb crop view": (lambda f: embedded(np.ascontiguousarray(f[:, :, ::-1]), 3, 5), "rgb", True),
    "rgb as reversed channels": (lambda f: f[:, :, ::-1], "rgb", False),
    "upside down twice": (lambda f: np.ascontiguousarray(f[::-1])[::-1], "bgr", False),
    "fortran order": (np.asfortranarray, "bgr", False),
    "read-only": (lambda f: read_only(f), "bgr", True),
}


def read_only(frame: np.ndarray) -> np.ndarray:
    frame = frame.copy()
    frame.flags.writeable = False
    return frame


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_give_the_packed_bgr_results(
    layout: str, clip: Clip, reference: list[siamtrack.Track]
) -> None:
    convert, color, in_place = LAYOUTS[layout]
    frames = [convert(frame) for frame in clip.frames[:30]]
    assert all(np.array_equal(f[:, :, ::-1] if color == "rgb" else f, g) for f, g in zip(frames, clip.frames))
    assert _siamtrack._reads_in_place(frames[0]) is in_place
    tracks = track_frames(siamtrack.Tracker(threads=1, color=color), frames, clip.boxes[0])
    assert tracks == reference


def test_color_is_not_ignored(clip: Clip, reference: list[siamtrack.Track]) -> None:
    # The same BGR frames read as RGB are other pixels: the results must differ somewhere.
    tracks = track_frames(siamtrack.Tracker(threads=1, color="rgb"), clip.frames[:30], clip.boxes[0])
    assert tracks != reference


def test_packed_frames_are_read_in_place(clip: Clip) -> None:
    assert _siamtrack._reads_in_place(clip.frames[0])


@pytest.fixture(scope="module")
def tracker(clip: Clip) -> siamtrack.Tracker:
    tracker = siamtrack.Tracker()
    tracker.init(clip.frames[0], clip.boxes[0])
    return tracker


@pytest.mark.parametrize(
    ("frame", "said"),
    [
        (np.zeros((40, 50, 3), np.float32), "float32 array of shape (40, 50, 3)"),
        (np.zeros((40, 50, 3), np.uint16), "uint16 array of shape (40, 50, 3)"),
        (np.zeros((40, 50, 3), np.int8), "int8 array of shape (40, 50, 3)"),
        (np.zeros((40, 50), np.uint8), "uint8 array of shape (40, 50)"),
        (np.zeros((40, 50, 4), np.uint8), "uint8 array of shape (40, 50, 4)"),
        (np.zeros((2, 40, 50, 3), np.uint8), "uint8 array of shape (2, 40, 50, 3)"),
        (np.zeros(3, np.uint8), "uint8 array of shape (3,)"),
        ([[[0, 0, 0]]], "got list"),
        (None, "got NoneType"),
        (b"\x00\x00\x00", "got bytes"),
    ],
)
def test_frames_that_are_not_hxwx3_uint8_raise_type_error(
    tracker: siamtrack.Tracker, frame: object, said: str
) -> None:
    for call in (tracker.update, tracker.track, lambda f: tracker.init(f, (1, 1, 5, 5))):
        with pytest.raises(TypeError, match="numpy array of shape \\(height, width, 3\\) and dtype uint8") as error:
            call(frame)
        assert said in str(error.value)
    targets = siamtrack.MultiTracker()
    with pytest.raises(TypeError, match="dtype uint8"):
        targets.add(frame, (1, 1, 5, 5))


@pytest.mark.parametrize("shape", [(0, 50, 3), (40, 0, 3), (0, 0, 3)])
def test_empty_frames_raise_value_error(tracker: siamtrack.Tracker, shape: tuple) -> None:
    frame = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match="empty"):
        tracker.update(frame)
    with pytest.raises(ValueError, match="empty"):
        siamtrack.Tracker().init(frame, (0, 0, 5, 5))


@pytest.mark.parametrize(
    ("box", "said"),
    [
        ((10, 10, 0, 20), "positive"),
        ((10, 10, 20, -5), "positive"),
        ((float("nan"), 10, 20, 20), "finite"),
        ((10, float("inf"), 20, 20), "finite"),
        ((5000, 10, 20, 20), "outside"),
        ((10, -400, 20, 20), "outside"),
        ((10, 10, 20), "4 numbers"),
        ((10, 10, 20, 20, 1), "4 numbers"),
        ("10,10,20,20", "4 numbers"),
        ("abcd", "4 numbers"),
        (b"\x0a\x0a\x14\x14", "4 numbers"),
        ({"x": 1, "y": 1, "w": 5, "h": 5}, "4 numbers"),
        ((10, "a", 20, 20), "4 numbers"),
        (None, "4 numbers"),
        (42, "4 numbers"),
    ],
)
def test_bad_boxes_raise_value_error(clip: Clip, box: object, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        siamtrack.Tracker().init(clip.frames[0], box)
    with pytest.raises(ValueError, match=said):
        siamtrack.MultiTracker().add(clip.frames[0], box)


def test_boxes_may_be_any_sequence_of_4_numbers(clip: Clip, reference: list[siamtrack.Track]) -> None:
    # The clip's first box has whole-pixel values, as a cv2.selectROI box would: exact in every type below.
    assert all(v == int(v) for v in clip.boxes[0])
    boxes = (
        list(clip.boxes[0]),
        np.array(clip.boxes[0]),
        tuple(int(v) for v in clip.boxes[0]),
        tuple(np.int64(v) for v in clip.boxes[0]),
        tuple(np.float32(v) for v in clip.boxes[0]),
    )
    for box in boxes:
        tracker = siamtrack.Tracker(threads=1)
        tracker.init(clip.frames[0], box)
        assert tracker.track(clip.frames[1]) == reference[0], repr(box)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (17, 9), (300, 20), (1, 400)])
def test_odd_but_valid_frames_and_boxes_give_sound_tracks(size: tuple) -> None:
    # Tiny and thin frames, boxes reaching outside, far larger or far smaller than the frame, and frames that
    # change size between calls: every call answers with a box in numbers and a known state.
    height, width = size
    rng = np.random.default_rng(height * 1000 + width)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in (size, size, (50, 60), (1, 1))]
    boxes = [(0, 0, 1, 1), (0, 0, width, height), (-5, -5, width + 10, height + 10), (0.2, 0.2, 1e-6, 1e-6)]
    boxes.append((width - 0.5, height - 0.5, 1e9, 1e9))
    for box in boxes:
        tracker = siamtrack.Tracker(threads=1)
        tracker.init(frames[0], box)
        for frame in frames[1:]:
            track = tracker.track(frame)
            assert np.isfinite(track.bbox).all() and track.w > 0 and track.h > 0, (box, track)
            assert track.state in {"tracking", "uncertain", "lost"}
            assert np.isfinite(track.score)
