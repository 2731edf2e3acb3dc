#!/usr/bin/env python3
"""Learns the template's channel metric: a 40x40 matrix M that mixes the template's feature channels before the
cross-correlation, so the Siamese response becomes sum_ij (M z_ij) . x_ij (a learned bilinear similarity instead
of the plain dot product) on the frozen encoder.

Why this shape: every earlier CPU training of the encoder itself scored below the ImageNet trunk it started from
(models/README.md); a matrix on the frozen features has 1,600 parameters, trains in minutes on cached features, and
costs nothing per frame (the tracker applies it once to the template at init).

Pairs are cut as the tracker cuts them (scripts/training/crops.py conventions): the template crop around the
first box, its central `template_crop` cells weighted by the box's coverage (`template_box_mask`); the search crop
around the second frame's target, shifted and rescaled a little. Loss: SiamFC's balanced logistic loss on the response map
(positive within `--radius` cells of the target). Sequences come from the training root only; a tenth of them
(every tenth name) are held out to validate.

    python3 scripts/training/train_metric.py models/effnet_lite0_s8_int8.json ../shared/data/train --out /work/exp/metric

writes <out>/features.npz (the cache), <out>/metric.json ({"template_metric": [[...]]}, row c = output channel)
and a log. `--apply SIDECAR` copies the metric into a sidecar.
"""
import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from crops import crop_square, normalise, otb_box_to_center, read_rgb, template_side
from sequences import load_sequences

MIN_TARGET_PX = 8


def template_mask(window, cells):
    """Coverage weights [k, k] of a centred box of `cells` (width, height) on a centred k x k window, as the
    tracker's mask_to_box."""
    def coverage(index, extent):
        low = index - window / 2.0
        return min(max(min(low + 1.0, extent / 2.0) - max(low, -extent / 2.0), 0.0), 1.0)
    return np.array([[coverage(r, cells[1]) * coverage(c, cells[0]) for c in range(window)] for r in range(window)],
                    dtype=np.float32)


def sample_pairs(sequences, count, max_gap, rng):
    usable = []
    for seq in sequences:
        frames = [i for i in range(len(seq.frames))
                  if seq.valid(i) and min(seq.boxes[i, 2], seq.boxes[i, 3]) >= MIN_TARGET_PX]
        if len(frames) >= 2:
            usable.append((seq, frames))
    pairs = []
    while len(pairs) < count:
        seq, frames = rng.choice(usable)
        i = rng.choice(frames)
        near = [j for j in frames if 0 < abs(j - i) <= max_gap]
        if near:
            pairs.append((seq, i, rng.choice(near)))
    return pairs


def extract(sidecar_path, train_root, out, count, max_gap, seed, shift_cells, log_scale):
    import onnxruntime as ort
    sidecar = json.loads(Path(sidecar_path).read_text())
    p = sidecar["tracker"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(Path(sidecar_path).parent / sidecar["onnx"]), options,
                                   providers=["CPUExecutionProvider"])
    stride, t_size, s_size = sidecar["total_stride"], sidecar["template_size"], sidecar["search_size"]
    window, t_feat = p["template_crop"], sidecar["template_feature_size"]
    start = (t_feat - window) // 2
    response = sidecar["search_feature_size"] - window + 1
    rng = random.Random(seed)
    sequences = load_sequences(train_root)
    held_out = {s.name for k, s in enumerate(sorted(sequences, key=lambda s: s.name)) if k % 10 == 0}
    split = {name: sample_pairs([s for s in sequences if (s.name in held_out) == (name == "val")],
                                count if name == "train" else count // 5, max_gap, rng)
             for name in ("train", "val")}
    arrays = {}
    for name, pairs in split.items():
        templates, searches, targets = [], [], []
        batch_t, batch_s = [], []

        def flush():
            if not batch_t:
                return
            for batch, dest in ((batch_t, templates), (batch_s, searches)):
                x = normalise(batch, sidecar["mean"], sidecar["std"])
                if sidecar["channel_order"] == "bgr":
                    x = x[:, ::-1].copy()
                dest.append(session.run([sidecar["output_name"]], {sidecar["input_name"]: x})[0])
            batch_t.clear()
            batch_s.clear()

        masks = []
        for seq, i, j in pairs:
            cx, cy, w, h = otb_box_to_center(seq.boxes[i])
            side = template_side(w, h, p["context"])
            img_i = read_rgb(seq.frames[i])
            batch_t.append(crop_square(img_i, cx, cy, side, t_size))
            masks.append(template_mask(window, (w * t_feat / side, h * t_feat / side)))
            jx, jy, jw, jh = otb_box_to_center(seq.boxes[j])
            # The search is cut for a size near the target's, centred near it: as the tracker after a small drift.
            scale = math.exp(rng.uniform(-log_scale, log_scale))
            search_side = template_side(jw, jh, p["context"]) * scale * s_size / t_size
            pixel = search_side / s_size
            dx, dy = (rng.uniform(-shift_cells, shift_cells) * stride * pixel for _ in range(2))
            img_j = img_i if j == i else read_rgb(seq.frames[j])
            batch_s.append(crop_square(img_j, jx + dx, jy + dy, search_side, s_size))
            # The target's response cell: a target at the crop's centre peaks at the map's centre.
            centre = (response - 1) / 2.0
            targets.append((centre - dy / pixel / stride, centre - dx / pixel / stride))
            if len(batch_t) == 32:
                flush()
        flush()
        feats_t = np.concatenate(templates)[:, :, start:start + window, start:start + window]
        arrays[f"{name}_templates"] = (feats_t * np.stack(masks)[:, None]).astype(np.float16)
        arrays[f"{name}_searches"] = np.concatenate(searches).astype(np.float16)
        arrays[f"{name}_targets"] = np.array(targets, dtype=np.float32)
        print(f"{name}: {len(pairs)} pairs", flush=True)
    arrays["response"] = np.array(response)
    np.savez(out / "features.npz", **arrays)


def train(out, steps, batch, lr, radius, decay, diagonal, seed, log):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(seed)
    data = np.load(out / "features.npz")
    response = int(data["response"])
    sets = {name: (torch.from_numpy(data[f"{name}_templates"].astype(np.float32)),
                   torch.from_numpy(data[f"{name}_searches"].astype(np.float32)),
                   torch.from_numpy(data[f"{name}_targets"])) for name in ("train", "val")}
    channels = sets["train"][0].shape[1]
    grid = torch.stack(torch.meshgrid(torch.arange(response, dtype=torch.float32),
                                      torch.arange(response, dtype=torch.float32), indexing="ij"))

    def labels(targets):
        d = (grid[None] - targets[:, :, None, None]).norm(dim=1)
        return (d <= radius).float()

    if diagonal:
        params = torch.ones(channels, requires_grad=True)
        metric = lambda: torch.diag(params)  # noqa: E731
    else:
        params = torch.eye(channels, requires_grad=True)
        metric = lambda: params  # noqa: E731
    # SiamFC's adjust layer: the response's scale and bias, learned alongside.
    adjust = torch.tensor([1e-2, 0.0], requires_grad=True)
    optimiser = torch.optim.Adam([params, adjust], lr=lr)

    def responses(templates, searches, m):
        z = torch.einsum("cd,bdij->bcij", m, templates)
        b = templates.shape[0]
        r = F.conv2d(searches.reshape(1, b * channels, *searches.shape[2:]), z, groups=b)
        return r.reshape(b, response, response)

    def loss_of(templates, searches, targets, m):
        r = responses(templates, searches, m) * adjust[0] + adjust[1]
        y = labels(targets)
        pos, neg = y.sum(), (1 - y).sum()
        # Positives and negatives weigh half each (SiamFC), the mean over the batch's pairs.
        weight = (y / pos.clamp(min=1) + (1 - y) / neg) * 0.5
        return F.binary_cross_entropy_with_logits(r, y, weight=weight, reduction="sum")

    def evaluate(m):
        t, s, g = sets["val"]
        with torch.no_grad():
            r = torch.cat([responses(t[k:k + 256], s[k:k + 256], m) for k in range(0, len(t), 256)])
            flat = r.reshape(len(t), -1).argmax(1)
            peak = torch.stack([flat // response, flat % response], 1).float()
            hit = ((peak - g).norm(dim=1) <= radius).float().mean().item()
            loss = sum(loss_of(t[k:k + 256], s[k:k + 256], g[k:k + 256], m).item() * len(t[k:k + 256])
                       for k in range(0, len(t), 256)) / len(t)
        return loss, hit

    identity = torch.eye(channels)
    print(f"identity: val peak within {radius} cells {evaluate(identity)[1]:.4f}", file=log, flush=True)
    t, s, g = sets["train"]
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        idx = torch.from_numpy(rng.choice(len(t), batch, replace=False))
        m = metric()
        loss = loss_of(t[idx], s[idx], g[idx], m) + decay * ((m - identity) ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == steps:
            val_loss, hit = evaluate(metric().detach())
            print(f"step {step}: train {loss.item():.4f} val loss {val_loss:.4f} val peak hit {hit:.4f}",
                  file=log, flush=True)
    m = metric().detach().numpy()
    # The scale of M is free (the tracker calibrates every response by the first frame's self-match); keep it
    # near the identity's for readable numbers.
    m = m / np.abs(np.linalg.eigvals(m)).mean()
    rows = [[round(float(v), 6) for v in row] for row in m]
    (out / "metric.json").write_text(json.dumps({"template_metric": rows}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sidecar")
    ap.add_argument("train_root")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--pairs", type=int, default=8000)
    ap.add_argument("--max-gap", type=int, default=50)
    ap.add_argument("--shift-cells", type=float, default=3.0)
    ap.add_argument("--log-scale", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--radius", type=float, default=2.0)
    ap.add_argument("--decay", type=float, default=0.1, help="pull of M towards the identity")
    ap.add_argument("--diagonal", action="store_true", help="only reweight the channels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--apply", type=Path, help="write the trained metric into this sidecar")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "features.npz").exists():
        started = time.time()
        extract(args.sidecar, args.train_root, args.out, args.pairs, args.max_gap, args.seed, args.shift_cells,
                args.log_scale)
        print(f"features in {time.time() - started:.0f} s", flush=True)
    with open(args.out / "train.log", "a") as log:
        print(json.dumps(vars(args), default=str), file=log, flush=True)
        train(args.out, args.steps, args.batch, args.lr, args.radius, args.decay, args.diagonal, args.seed, log)
    if args.apply:
        apply_metric(args.apply, json.loads((args.out / "metric.json").read_text())["template_metric"])


def apply_metric(sidecar_path, metric):
    """Writes `metric` into the sidecar as its last field, one row per line."""
    sidecar = json.loads(sidecar_path.read_text())
    sidecar.pop("template_metric", None)
    text = json.dumps(sidecar, indent=2)
    rows = ",\n".join("    " + json.dumps([round(float(v), 6) for v in row]) for row in metric)
    sidecar_path.write_text(text[:-2] + f',\n  "template_metric": [\n{rows}\n  ]\n}}\n')


if __name__ == "__main__":
    main()
