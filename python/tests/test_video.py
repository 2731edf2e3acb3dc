"""track_video: frames read with OpenCV from a video file or an image folder, the given boxes as frame 0."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import Clip, first_box, run_cli

import siamtrack


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    run_cli("synth", path, "--frames", 25)
    return path


def test_a_video_file_yields_every_frame(video: Path) -> None:
    box = first_box(video.with_suffix(".txt"))
    results = list(siamtrack.track_video(video, [box]))
    assert [index for index, _ in results] == list(range(25))
    assert results[0][1] == [siamtrack.Track(*box)]
    for _, tracks in results[1:]:
        assert [t.id for t in tracks] == [1]
        assert tracks[0].state == "tracking"
    # The target moves, and the tracker follows it.
    assert results[-1][1][0].bbox != box


def test_one_box_may_be_given_alone(video: Path) -> None:
    box = first_box(video.with_suffix(".txt"))
    alone = [tracks for _, tracks in siamtrack.track_video(str(video), box)]
    listed = [tracks for _, tracks in siamtrack.track_video(video, [box])]
    assert alone == listed


def test_several_targets_get_ids_in_order(clip_two: Clip) -> None:
    results = siamtrack.track_video(clip_two.folder / "img", clip_two.boxes)
    index, given = next(results)
    assert index == 0
    assert [(t.id, t.bbox, t.score, t.state) for t in given] == [
        (1, clip_two.boxes[0], 1.0, "tracking"),
        (2, clip_two.boxes[1], 1.0, "tracking"),
    ]
    index, tracks = next(results)
    assert index == 1 and [t.id for t in tracks] == [1, 2]


def test_missing_sources_raise_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        siamtrack.track_video(tmp_path / "absent.mp4", [(1, 1, 5, 5)])
    with pytest.raises(ValueError, match="no image files"):
        siamtrack.track_video(tmp_path, [(1, 1, 5, 5)])
    with pytest.raises(ValueError, match="at least one box"):
        siamtrack.track_video(tmp_path, [])


def test_a_bad_box_raises_value_error(video: Path) -> None:
    with pytest.raises(ValueError, match="positive size"):
        next(siamtrack.track_video(video, [(10, 10, 0, 5)]))


def test_without_opencv_an_import_error_says_what_to_install(
    video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(ImportError, match="pip install opencv-python-headless"):
        siamtrack.track_video(video, [(1, 1, 5, 5)])
