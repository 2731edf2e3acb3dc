"""Tracks every sequence of an OTB-layout dataset with the Python package as an OpenCV user would (frames read by
cv2.imread, tracker.init / tracker.update), writing OTB result files that `siamtrack score` compares with the
command line's `siamtrack eval` results on the same frames:

    python3 scripts/benchmarks/python_parity.py ../shared/data/dev out/python-parity/python
    siamtrack eval ../shared/data/dev --results-dir out/python-parity/eval
    siamtrack score ../shared/data/dev out/python-parity/python out/python-parity/eval/siamtrack

Needs `pip install ./python opencv-python-headless`.
"""

import argparse
import math
from pathlib import Path

import cv2

import siamtrack


def first_valid_box(truth: Path) -> tuple[int, tuple[float, float, float, float]]:
    """The index and 0-based box of the first ground-truth line with a box (OTB: 1-based x,y,w,h)."""
    for index, line in enumerate(truth.read_text().splitlines()):
        values = [float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",") if v]
        if len(values) == 4 and all(math.isfinite(v) for v in values) and values[2] > 0 and values[3] > 0:
            x, y, w, h = values
            return index, (x - 1.0, y - 1.0, w, h)
    raise ValueError(f"{truth}: no box")


def track_sequence(folder: Path, out: Path) -> None:
    frames = sorted(p for p in (folder / "img").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    start, box = first_valid_box(folder / "groundtruth_rect.txt")
    tracker = siamtrack.Tracker()
    # Frames before the first box are not scored; the first box stands in for them, as in `siamtrack eval`.
    boxes = [box] * start
    tracker.init(cv2.imread(str(frames[start])), box)
    boxes.append(box)
    for path in frames[start + 1:]:
        _, box = tracker.update(cv2.imread(str(path)))
        boxes.append(box)
    out.write_text("".join(f"{x + 1:.2f},{y + 1:.2f},{w:.2f},{h:.2f}\n" for x, y, w, h in boxes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="OTB-layout dataset (list.txt names the sequences)")
    parser.add_argument("results", type=Path, help="folder for <sequence>.txt")
    args = parser.parse_args()
    names = (args.dataset / "list.txt").read_text().split()
    args.results.mkdir(parents=True, exist_ok=True)
    for name in names:
        track_sequence(args.dataset / name, args.results / f"{name}.txt")
        print(name, flush=True)


if __name__ == "__main__":
    main()
