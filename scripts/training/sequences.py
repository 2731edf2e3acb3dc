"""Reading tracking sequences (OTB and GOT-10k layouts) and YOLO-labelled still images."""
import re
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


class Sequence:
    def __init__(self, name, frames, boxes):
        self.name = name
        self.frames = frames  # image paths in order
        self.boxes = boxes  # float array [n, 4] of 1-based x, y, w, h; NaN rows = target absent

    def valid(self, i):
        return bool(np.all(np.isfinite(self.boxes[i])) and self.boxes[i, 2] > 0 and self.boxes[i, 3] > 0)


def read_boxes(path):
    """One box per line, separated by commas, tabs or spaces; 'NaN' fields read as NaN."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rows.append([float(v) for v in re.split(r"[,\t ]+", line.strip())[:4]])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def load_sequence(seq_dir):
    """OTB: <seq>/img/*.jpg + groundtruth_rect.txt; GOT-10k: <seq>/*.jpg + groundtruth.txt."""
    seq_dir = Path(seq_dir)
    if (seq_dir / "groundtruth_rect.txt").exists():
        image_dir, gt = seq_dir / "img", seq_dir / "groundtruth_rect.txt"
    elif (seq_dir / "groundtruth.txt").exists():
        image_dir, gt = seq_dir, seq_dir / "groundtruth.txt"
    else:
        raise FileNotFoundError(f"no groundtruth_rect.txt or groundtruth.txt in {seq_dir}")
    frames = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    boxes = read_boxes(gt)
    n = min(len(frames), len(boxes))
    return Sequence(seq_dir.name, frames[:n], boxes[:n])


def load_sequences(root, names=None):
    """Every sequence directory under root (or the listed names), sorted by name."""
    root = Path(root)
    dirs = [root / n for n in names] if names else sorted(d for d in root.iterdir() if d.is_dir())
    return [load_sequence(d) for d in dirs]


def load_yolo_images(root):
    """[(image path, normalised YOLO boxes [n, 4] as cx, cy, w, h)] from images/ + labels/; see yolo_to_otb."""
    root = Path(root)
    items = []
    for label in sorted((root / "labels").glob("*.txt")):
        image = root / "images" / (label.stem + ".jpg")
        rows = [list(map(float, line.split()[1:5])) for line in label.read_text().splitlines() if line.strip()]
        if image.exists() and rows:
            items.append((image, np.array(rows, dtype=np.float64)))
    return items


def yolo_to_otb(norm_box, width, height):
    cx, cy, w, h = norm_box
    w_px, h_px = w * width, h * height
    return np.array([cx * width - w_px / 2 + 1, cy * height - h_px / 2 + 1, w_px, h_px])
