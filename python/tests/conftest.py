"""Shared fixtures: generated clips (written by the command line's `synth`), their frames, and the command
line's own track logs of them, which the bindings must reproduce."""

from __future__ import annotations

import csv
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2  # the tests read frames with OpenCV: pip install opencv-python-headless
import numpy as np
import pytest

import siamtrack

REPO = Path(__file__).resolve().parents[2]


def cli_path() -> Path:
    """The command line binary: SIAMTRACK_CLI, else the release build of this repository."""
    path = Path(os.environ.get("SIAMTRACK_CLI", REPO / "target" / "release" / "siamtrack"))
    if not path.is_file():
        pytest.fail(
            f"the siamtrack command line is not at {path}: build it (cargo build --release) or set SIAMTRACK_CLI",
            pytrace=False,
        )
    return path


def run_cli(*args: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(cli_path()), *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"siamtrack {' '.join(map(str, args))} failed:\n{result.stderr}"
    return result


@dataclass
class LogRow:
    """One row of the command line's CSV log, its numbers as written."""

    frame: int
    x: float
    y: float
    w: float
    h: float
    score: float
    state: str
    target: int


def read_log(path: Path) -> list[LogRow]:
    with open(path, newline="") as file:
        return [
            LogRow(
                frame=int(row["frame"]),
                x=float(row["x"]),
                y=float(row["y"]),
                w=float(row["w"]),
                h=float(row["h"]),
                score=float(row["score"]),
                state=row["state"],
                target=int(row["target"]),
            )
            for row in csv.DictReader(file)
        ]


def rust_round(value: float, decimals: int) -> float:
    """`value` rounded as the command line's log rounds it: (value * 10^d).round() / 10^d in f64, halves away
    from zero (Rust's f64::round), not to even as Python's round()."""
    factor = 10.0**decimals
    scaled = value * factor
    whole = math.floor(abs(scaled))
    if abs(scaled) - whole >= 0.5:  # exact: the fraction of a double is a double
        whole += 1
    return math.copysign(whole, scaled) / factor


def assert_matches_log(track: siamtrack.Track, row: LogRow) -> None:
    """The log holds the box to 2 decimals and the score (an f32) to 4, printed exactly: the track rounded the
    same way must give the logged numbers exactly, and the state must be the same."""
    where = f"frame {row.frame}, target {row.target}"
    assert track.id == row.target, where
    got = tuple(rust_round(v, 2) for v in track.bbox)
    assert got == (row.x, row.y, row.w, row.h), f"{where}: box {track.bbox} vs logged {(row.x, row.y, row.w, row.h)}"
    assert np.float32(rust_round(track.score, 4)) == np.float32(row.score), f"{where}: score {track.score} vs {row.score}"
    assert track.state == row.state, f"{where}: state {track.state} vs {row.state}"


@dataclass
class Clip:
    """A generated OTB-layout sequence: folder/img/0001.png..., one ground-truth file per target, the frames as
    read, and each target's first box (0-based)."""

    folder: Path
    truths: list[Path]
    frames: list[np.ndarray]
    boxes: list[tuple[float, float, float, float]]


def first_box(truth: Path) -> tuple[float, float, float, float]:
    """The first line of an OTB ground truth (1-based) as a 0-based box, as `siamtrack track --init-gt` reads it."""
    x, y, w, h = (float(v) for v in truth.read_text().splitlines()[0].replace("\t", ",").split(","))
    return (x - 1.0, y - 1.0, w, h)


def make_clip(root: Path, name: str, *synth_args: object) -> Clip:
    """A clip from `siamtrack synth`, its JPEG frames rewritten as PNG: both sides then read identical pixels
    (the command line through the system's OpenCV, the tests through the opencv-python wheel), whatever JPEG
    decoder each was built with."""
    jpeg = root / f"{name}-jpeg"
    run_cli("synth", jpeg, *synth_args)
    folder = root / name
    (folder / "img").mkdir(parents=True)
    frames = []
    for source in sorted((jpeg / "img").glob("*.jpg")):
        frame = cv2.imread(str(source), cv2.IMREAD_COLOR)
        target = folder / "img" / f"{source.stem}.png"
        assert cv2.imwrite(str(target), frame)
        frames.append(cv2.imread(str(target), cv2.IMREAD_COLOR))
        assert np.array_equal(frames[-1], frame)
    truths = sorted(jpeg.glob("groundtruth_rect*.txt"))
    for truth in truths:
        (folder / truth.name).write_text(truth.read_text())
    truths = [folder / truth.name for truth in truths]
    return Clip(folder=folder, truths=truths, frames=frames, boxes=[first_box(t) for t in truths])


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """One target that leaves the frame for frames 30-59 and comes back elsewhere: the tracker goes from
    tracking to uncertain and lost, then recovers it."""
    return make_clip(tmp_path_factory.mktemp("clips"), "one", "--frames", 100, "--seed", 5, "--absent", "30..60")


@pytest.fixture(scope="session")
def clip_two(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """Two targets whose paths cross."""
    return make_clip(tmp_path_factory.mktemp("clips"), "two", "--frames", 50, "--targets", 2, "--seed", 3)


def cli_track(clip: Clip, out: Path) -> list[LogRow]:
    args: list[object] = ["track", clip.folder]
    for truth in clip.truths:
        args += ["--init-gt", truth]
    run_cli(*args, "--no-display", "--log", out)
    return read_log(out)


@pytest.fixture(scope="session")
def cli_log(clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> list[LogRow]:
    return cli_track(clip, tmp_path_factory.mktemp("logs") / "one.csv")


@pytest.fixture(scope="session")
def cli_log_two(clip_two: Clip, tmp_path_factory: pytest.TempPathFactory) -> list[LogRow]:
    return cli_track(clip_two, tmp_path_factory.mktemp("logs") / "two.csv")


@pytest.fixture(scope="session")
def reference(clip: Clip) -> list[siamtrack.Track]:
    """The tracks of a one-thread Tracker on the packed BGR frames: what every other way of feeding the same
    pixels must give (encoder on one thread, as the thread tests run it)."""
    return track_frames(siamtrack.Tracker(threads=1), clip.frames[:30], clip.boxes[0])


def track_frames(tracker: siamtrack.Tracker, frames: list[np.ndarray], box: tuple) -> list[siamtrack.Track]:
    tracker.init(frames[0], box)
    return [tracker.track(frame) for frame in frames[1:]]
