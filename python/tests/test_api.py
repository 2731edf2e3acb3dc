"""The Python interface: Track, Tracker and MultiTracker as documented, the shipped models, model files, devices
and the errors of each."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, Clip, track_frames

import siamtrack


def test_track_is_a_small_immutable_value() -> None:
    track = siamtrack.Track(1.5, 2.25, 30.0, 40.0, score=0.75, state="uncertain", id=3)
    assert (track.x, track.y, track.w, track.h, track.score, track.state, track.id) == (
        1.5, 2.25, 30.0, 40.0, 0.75, "uncertain", 3,
    )
    assert track.bbox == (1.5, 2.25, 30.0, 40.0)
    assert all(type(v) is float for v in track.bbox)
    assert repr(track) == "Track(id=3, x=1.50, y=2.25, w=30.00, h=40.00, score=0.750, state='uncertain')"
    with pytest.raises(AttributeError):
        track.x = 5.0  # type: ignore[misc]
    assert track == siamtrack.Track(1.5, 2.25, 30.0, 40.0, 0.75, "uncertain", 3)
    assert track != siamtrack.Track(1.5, 2.25, 30.0, 40.0, 0.75, "lost", 3)
    given = siamtrack.Track(1, 2, 3, 4)
    assert (given.score, given.state, given.id) == (1.0, "tracking", 1)
    with pytest.raises(ValueError, match="state must be"):
        siamtrack.Track(1, 2, 3, 4, state="found")


def test_public_names_are_documented() -> None:
    for name in siamtrack.__all__:
        value = getattr(siamtrack, name)
        if callable(value):
            assert value.__doc__, name
    for cls in (siamtrack.Track, siamtrack.Tracker, siamtrack.MultiTracker):
        for name, member in vars(cls).items():
            if not name.startswith("_"):
                assert member.__doc__, f"{cls.__name__}.{name}"


def test_tracker_reports_the_last_score_and_its_track(clip: Clip) -> None:
    tracker = siamtrack.Tracker()
    assert tracker.getTrackingScore() == 0.0
    tracker.init(clip.frames[0], clip.boxes[0])
    assert tracker.getTrackingScore() == 1.0
    track = tracker.track(clip.frames[1])
    assert track.id == 1 and track.state == "tracking"
    assert tracker.getTrackingScore() == track.score
    assert 0.0 < track.score <= 1.0
    assert repr(tracker) == "Tracker(model='effnet_lite0_s8_int8', device='cpu', color='bgr')"
    # init again starts over: the same results as a new tracker.
    tracker.init(clip.frames[0], clip.boxes[0])
    assert tracker.track(clip.frames[1]) == track


def test_recentre_moves_the_box_and_keeps_its_size(clip: Clip) -> None:
    tracker = siamtrack.Tracker()
    with pytest.raises(RuntimeError, match="before it was initialised"):
        tracker.recentre((10.0, 10.0))
    tracker.init(clip.frames[0], clip.boxes[0])
    x, y, w, h = tracker.track(clip.frames[1]).bbox
    # Moved to the far side of the frame, away from the target: the next search is around there.
    height, width = clip.frames[0].shape[:2]
    target = (x + w / 2, y + h / 2)
    far = (width - target[0], height - target[1])
    tracker.recentre(far)
    nx, ny, nw, nh = tracker.track(clip.frames[2]).bbox
    found = (nx + nw / 2, ny + nh / 2)
    assert math.dist(found, far) < math.dist(found, target), (found, far, target)
    assert abs(math.log(nw * nh / (w * h))) < 0.2, "the size is kept"
    with pytest.raises(ValueError, match="not finite"):
        tracker.recentre((float("nan"), 1.0))


def test_update_before_init_raises_runtime_error(clip: Clip) -> None:
    with pytest.raises(RuntimeError, match="before it was initialised"):
        siamtrack.Tracker().update(clip.frames[0])
    with pytest.raises(RuntimeError, match="before it was initialised"):
        siamtrack.Tracker().track(clip.frames[0])
    with pytest.raises(RuntimeError, match="before any target was added"):
        siamtrack.MultiTracker().update(clip.frames[0])


def test_multi_tracker_ids_and_remove(clip_two: Clip) -> None:
    frames, (first_box, second_box) = clip_two.frames, clip_two.boxes
    targets = siamtrack.MultiTracker()
    assert targets.ids == [] and len(targets) == 0
    assert targets.add(frames[0], first_box) == 1
    assert targets.add(frames[0], second_box) == 2
    assert targets.ids == [1, 2] and len(targets) == 2
    both = targets.update(frames[1])
    assert [t.id for t in both] == [1, 2]
    targets.remove(1)
    assert targets.ids == [2]
    alone = targets.update(frames[2])
    assert [t.id for t in alone] == [2]
    with pytest.raises(KeyError, match="no target with id 1"):
        targets.remove(1)
    with pytest.raises(KeyError, match="no target with id 7"):
        targets.remove(7)
    # Ids are never reused.
    assert targets.add(frames[2], first_box) == 3
    assert [t.id for t in targets.update(frames[3])] == [2, 3]
    assert repr(targets) == "MultiTracker(model='effnet_lite0_s8_int8', device='cpu', color='bgr', ids=[2, 3])"


def test_one_target_of_a_multi_tracker_is_a_tracker(clip: Clip, reference: list[siamtrack.Track]) -> None:
    targets = siamtrack.MultiTracker(threads=1)
    targets.add(clip.frames[0], clip.boxes[0])
    assert [targets.update(frame)[0] for frame in clip.frames[1:30]] == reference


def test_shipped_models_need_no_path(tmp_path: Path, clip: Clip) -> None:
    # From a folder holding no model and without the source tree's models/ in reach.
    frames = tmp_path / "frames.npy"
    np.save(frames, np.stack(clip.frames[:3]))
    script = (
        "import numpy as np, siamtrack\n"
        f"frames = np.load({str(frames)!r})\n"
        "for model in (None, *siamtrack.SHIPPED_MODELS):\n"
        "    tracker = siamtrack.Tracker(model=model)\n"
        f"    tracker.init(frames[0], {clip.boxes[0]!r})\n"
        "    print(tracker.model, tracker.track(frames[1]).state)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split("\n")
    assert out[:3] == ["effnet_lite0_s8_int8 tracking", "effnet_lite0_s8_int8 tracking", "effnet_lite0_s8 tracking"]
    assert siamtrack.DEFAULT_MODEL == siamtrack.SHIPPED_MODELS[0] == "effnet_lite0_s8_int8"


def test_the_default_model_is_the_shipped_sidecar(clip: Clip, reference: list[siamtrack.Track]) -> None:
    sidecar = REPO / "models" / "effnet_lite0_s8_int8.json"
    by_path = track_frames(siamtrack.Tracker(model=sidecar, threads=1), clip.frames[:30], clip.boxes[0])
    assert by_path == reference
    by_name = track_frames(siamtrack.Tracker(model=str(sidecar), threads=1), clip.frames[:30], clip.boxes[0])
    assert by_name == reference
    other = track_frames(siamtrack.Tracker(model="effnet_lite0_s8", threads=1), clip.frames[:30], clip.boxes[0])
    assert other != reference


def test_a_missing_model_raises_file_not_found_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    for cls in (siamtrack.Tracker, siamtrack.MultiTracker):
        with pytest.raises(FileNotFoundError, match="absent.json") as error:
            cls(model=missing)
        assert str(missing) in str(error.value)
        with pytest.raises(FileNotFoundError, match="effnet_lite0_s8_int8"):
            cls(model="effnet_lite9")


def test_a_bad_model_raises_value_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        siamtrack.Tracker(model=broken)
    # A sidecar that is JSON but not a model's.
    sidecar = json.loads((REPO / "models" / "effnet_lite0_s8_int8.json").read_text())
    del sidecar["onnx"]
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="incomplete.json"):
        siamtrack.Tracker(model=incomplete)
    with pytest.raises(TypeError, match="shipped model's name"):
        siamtrack.Tracker(model=3)  # type: ignore[arg-type]


def test_a_model_file_elsewhere_loads(tmp_path: Path, clip: Clip, reference: list[siamtrack.Track]) -> None:
    for suffix in (".json", ".onnx"):
        shutil.copy(REPO / "models" / f"effnet_lite0_s8_int8{suffix}", tmp_path)
    model = tmp_path / "effnet_lite0_s8_int8.json"
    tracks = track_frames(siamtrack.Tracker(model=model, threads=1), clip.frames[:30], clip.boxes[0])
    assert tracks == reference
    # The sidecar's graph is read beside it: without it, the error names the file.
    (tmp_path / "effnet_lite0_s8_int8.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="effnet_lite0_s8_int8.onnx"):
        siamtrack.Tracker(model=model)


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"device": "gpu"}, 'device must be "cpu", "cuda" or "tensorrt"; got "gpu"'),
        ({"color": "hsv"}, 'color must be "bgr" or "rgb"; got "hsv"'),
        ({"threads": -1}, "threads must be 0 \\(all cores\\) or more; got -1"),
    ],
)
def test_bad_arguments_raise_value_error(arguments: dict, said: str) -> None:
    for cls in (siamtrack.Tracker, siamtrack.MultiTracker):
        with pytest.raises(ValueError, match=said):
            cls(**arguments)


def test_names_are_case_blind(clip: Clip) -> None:
    tracker = siamtrack.Tracker(device="CPU", color="BGR")
    assert tracker.device == "cpu"


def _gpu_runtime() -> bool:
    library = siamtrack._runtime_library()
    return library is not None and any(library.parent.glob("libonnxruntime_providers_cuda.so"))


@pytest.mark.skipif(_gpu_runtime(), reason="the GPU build of ONNX Runtime is installed: nothing to fall back from")
@pytest.mark.parametrize(("device", "name"), [("cuda", "CUDA"), ("tensorrt", "TensorRT")])
def test_gpu_devices_fall_back_to_the_cpu_with_a_warning(clip: Clip, device: str, name: str) -> None:
    for cls in (siamtrack.Tracker, siamtrack.MultiTracker):
        with pytest.warns(RuntimeWarning, match=f"{name} is not available.*running on the CPU") as caught:
            tracker = cls(device=device)
        # The warning points at the line that made the tracker.
        assert caught[0].filename == __file__
        assert tracker.device == "cpu"
    with pytest.warns(RuntimeWarning):
        tracker = siamtrack.Tracker(device=device)
    tracker.init(clip.frames[0], clip.boxes[0])
    assert tracker.track(clip.frames[1]).state == "tracking"


def test_no_warning_on_the_cpu() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        siamtrack.Tracker(device="cpu")
