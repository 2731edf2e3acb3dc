"""Python SiamFC tracker and OTB success AUC, for the periodic dev evaluation during training.

Same geometry, hyper-parameters and peak choice as the Rust tracker's template path
(crates/siamtrack-core/src/tracker/): the scale penalty acts on responses shifted to be non-negative, so a
penalty < 1 always lowers a scale's score.
"""
import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

import crops
import export
from sequences import load_sequences
from siamnet import LITE0_MEAN, LITE0_STD, TOTAL_STRIDE, center_crop, xcorr


class SiamFCTracker:
    def __init__(self, net, tracker, mean, std, total_stride, device="cpu"):
        self.net, self.cfg, self.mean, self.std = net, tracker, mean, std
        self.total_stride, self.device = total_stride, device
        n = tracker["scale_num"]
        self.scales = tracker["scale_step"] ** (np.arange(n) - (n - 1) / 2)

    def _embed(self, crop_list):
        x = torch.from_numpy(crops.normalise(crop_list, self.mean, self.std)).to(self.device)
        return self.net.embed(x)

    @torch.no_grad()
    def init(self, img, box):
        self.cx, self.cy, self.w, self.h = crops.otb_box_to_center(box)
        self.z_side = crops.template_side(self.w, self.h, self.cfg["context"])
        template = crops.crop_square(img, self.cx, self.cy, self.z_side, crops.TEMPLATE_SIZE)
        self.template = center_crop(self._embed([template]), self.cfg["template_crop"])

    @torch.no_grad()
    def update(self, img):
        """Track into img; returns the 1-based (x, y, w, h) box."""
        x_side = self.z_side * crops.SEARCH_SIZE / crops.TEMPLATE_SIZE
        pad = img.reshape(-1, 3).mean(0)
        searches = [crops.crop_square(img, self.cx, self.cy, x_side * s, crops.SEARCH_SIZE, pad) for s in self.scales]
        feats = self._embed(searches)
        response = xcorr(self.template.expand(len(searches), -1, -1, -1), feats)[:, 0].cpu().numpy()
        up = response.shape[-1] * self.cfg["response_up"]
        maps = np.stack([cv2.resize(r, (up, up), interpolation=cv2.INTER_CUBIC) for r in response])
        # As the Rust tracker: the scale penalty acts on responses shifted to be non-negative.
        peaks = maps.reshape(len(maps), -1).max(1) - maps.min()
        peaks[np.arange(len(self.scales)) != len(self.scales) // 2] *= self.cfg["scale_penalty"]
        best = int(peaks.argmax())
        score = maps[best] - maps[best].min()
        score /= score.sum() + 1e-16
        window = np.outer(np.hanning(up), np.hanning(up))
        score = (1 - self.cfg["window_influence"]) * score + self.cfg["window_influence"] * window / window.sum()
        row, col = np.unravel_index(score.argmax(), score.shape)
        # peak offset in the upsampled map -> search-crop pixels -> frame pixels
        to_frame = self.total_stride / self.cfg["response_up"] * x_side * self.scales[best] / crops.SEARCH_SIZE
        self.cx += (col - (up - 1) / 2) * to_frame
        self.cy += (row - (up - 1) / 2) * to_frame
        change = (1 - self.cfg["scale_lr"]) + self.cfg["scale_lr"] * self.scales[best]
        self.w, self.h, self.z_side = self.w * change, self.h * change, self.z_side * change
        return np.array([self.cx + 1 - (self.w - 1) / 2, self.cy + 1 - (self.h - 1) / 2, self.w, self.h])


def iou(a, b):
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def success_auc(pred, gt):
    """OTB one-pass success AUC over frames with a valid ground truth (the first frame included)."""
    valid = np.all(np.isfinite(gt), axis=1)
    overlaps = iou(pred[valid], gt[valid])
    return float(np.mean([(overlaps > t).mean() for t in np.linspace(0, 1, 21)]))


def dev_auc(net, tracker, mean, std, total_stride, dev_root, names, max_frames, device="cpu"):
    """{sequence: AUC} over the first max_frames frames of each named dev sequence."""
    aucs = {}
    for seq in load_sequences(dev_root, names):
        n = min(max_frames, len(seq.frames))
        first = next(i for i in range(n) if seq.valid(i))
        t = SiamFCTracker(net, tracker, mean, std, total_stride, device)
        t.init(crops.read_rgb(seq.frames[first]), seq.boxes[first])
        pred = np.full((n, 4), np.nan)
        pred[first] = seq.boxes[first]
        for i in range(first + 1, n):
            pred[i] = t.update(crops.read_rgb(seq.frames[i]))
        aucs[seq.name] = success_auc(pred[first:], seq.boxes[first:n])
    return aucs


def main():
    parser = argparse.ArgumentParser(description="Success AUC of the Python SiamFC tracker on dev sequences.")
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint.pt (default: ImageNet trunk)")
    parser.add_argument("--dev-data", type=Path, default=export.REPO.parent / "shared" / "data" / "dev")
    parser.add_argument("--seqs", default="Crossing,Football1,Dog", help="comma-separated names ('' = all)")
    parser.add_argument("--frames", type=int, default=100, help="first frames per sequence")
    args = parser.parse_args()
    torch.set_num_threads(1)
    net, config = export.load_model(args.checkpoint)
    tracker = dict(export.DEFAULT_TRACKER, template_crop=net.template_crop) if config is None else config["tracker"]
    names = [n for n in args.seqs.split(",") if n] or None
    aucs = dev_auc(net, tracker, LITE0_MEAN, LITE0_STD, TOTAL_STRIDE, args.dev_data, names, args.frames)
    print(f"mean AUC {np.mean(list(aucs.values())):.3f} over {len(aucs)}: "
          + " ".join(f"{k} {v:.3f}" for k, v in aucs.items()))


if __name__ == "__main__":
    main()
