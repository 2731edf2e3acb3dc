#!/usr/bin/env python3
"""Confidence calibration and lost-target recovery, measured with the Rust tracker on OTB-layout sequences.

For each sequence, runs `siamtrack track` with a CSV log, then relates each frame's score and state to the ground
truth: the score distributions of frames on target (IoU > 0.5), off target (IoU = 0, target visible) and target
absent (NaN ground truth) justify the sidecar's `uncertain_below` / `lost_below`. With `--compare-recovery` it also
runs every sequence with recovery off (`--set lost_below=0`) and reports success AUC both ways, failure frames, and
the frames from the target's reappearance to its re-acquisition (IoU > 0.3 again).

Standard library only. Usage:
  scripts/studies/confidence_study.py [--data ../shared/data/dev] [--sequences a,b] [--model M.json] [--compare-recovery]
"""
import argparse
import csv
import math
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def read_truth(path):
    """1-based OTB ground truth -> 0-based boxes, None where absent."""
    boxes = []
    for line in Path(path).read_text().splitlines():
        values = [float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",") if v]
        if len(values) == 8:
            xs, ys = values[0::2], values[1::2]
            values = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        ok = values and not any(math.isnan(v) for v in values) and values[2] > 0 and values[3] > 0
        boxes.append([values[0] - 1, values[1] - 1, values[2], values[3]] if ok else None)
    return boxes


def iou(a, b):
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def track(binary, seq_dir, model, extra):
    """Runs the tracker on one sequence; returns the CSV rows."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.csv"
        cmd = [binary, "track", str(seq_dir), "--init-gt", str(seq_dir / "groundtruth_rect.txt"),
               "--no-display", "--log", str(log)] + (["--model", model] if model else []) + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return list(csv.DictReader(log.open()))


def success_auc(ious):
    return sum(sum(v > t / 20 for v in ious) / len(ious) for t in range(21)) / 21


def reacquisition_delays(truth, ious):
    """Frames from each reappearance (first visible frame after an absence) to the first frame with IoU > 0.3."""
    delays = []
    for i in range(1, len(truth)):
        if truth[i] is not None and truth[i - 1] is None:
            later = [k for k in range(i, len(truth)) if ious[k] is not None and ious[k] > 0.3]
            delays.append(later[0] - i if later else None)
    return delays


def percentiles(values, ps=(5, 25, 50, 75, 95)):
    if not values:
        return ["-"] * len(ps)
    s = sorted(values)
    return [f"{s[min(len(s) - 1, int(p / 100 * len(s)))]:.2f}" for p in ps]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "dev")
    parser.add_argument("--sequences", help="comma-separated (default: list.txt or every folder)")
    parser.add_argument("--model", help="model sidecar (default: the shipped one)")
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "siamtrack"))
    parser.add_argument("--compare-recovery", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="tracker hyper-parameter override for every run (repeatable)")
    args = parser.parse_args()
    names = (args.sequences.split(",") if args.sequences
             else sorted(p.name for p in args.data.iterdir() if (p / "groundtruth_rect.txt").is_file()))

    groups = {"on target (IoU > 0.5)": [], "off target (IoU = 0)": [], "target absent": []}
    states = {}
    recovery_rows = []
    for name in names:
        seq = args.data / name
        truth = read_truth(seq / "groundtruth_rect.txt")
        overrides = [arg for kv in args.set for arg in ("--set", kv)]
        runs = {"on": track(args.binary, seq, args.model, overrides)}
        if args.compare_recovery:
            runs["off"] = track(args.binary, seq, args.model, overrides + ["--set", "lost_below=0"])
        result = {}
        for mode, rows in runs.items():
            ious = [None if t is None else iou([float(r[k]) for k in "xywh"], t) for r, t in zip(rows, truth)]
            valid = [v for v in ious if v is not None]
            result[mode] = (success_auc(valid), sum(v == 0 for v in valid), reacquisition_delays(truth, ious))
            if mode != "on":
                continue
            for r, v in zip(rows[1:], ious[1:]):
                score = float(r["score"])
                key = ("target absent" if v is None else "on target (IoU > 0.5)" if v > 0.5
                       else "off target (IoU = 0)" if v == 0 else None)
                if key:
                    groups[key].append(score)
                    states.setdefault(key, {}).setdefault(r["state"], 0)
                    states[key][r["state"]] += 1
        recovery_rows.append((name, result))
        print(f"{name}: AUC {result['on'][0]:.3f}" + (f" (recovery off {result['off'][0]:.3f})" if "off" in result else ""),
              file=sys.stderr)

    print("| frames | count | p5 | p25 | median | p75 | p95 | states |")
    print("|---|---|---|---|---|---|---|---|")
    for key, scores in groups.items():
        st = ", ".join(f"{k} {v}" for k, v in sorted(states.get(key, {}).items()))
        print(f"| {key} | {len(scores)} | " + " | ".join(percentiles(scores)) + f" | {st} |")
    print()
    print("| score below | " + " | ".join(groups) + " |")
    print("|---|" + "---|" * len(groups))
    for t in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]:
        shares = [f"{100 * sum(s < t for s in v) / max(1, len(v)):.0f}%" for v in groups.values()]
        print(f"| {t:.1f} | " + " | ".join(shares) + " |")
    if args.compare_recovery:
        print()
        print("| sequence | AUC recovery on | AUC recovery off | IoU=0 frames on | off | reappearance -> re-acquired (frames) on | off |")
        print("|---|---|---|---|---|---|---|")
        for name, r in recovery_rows:
            fmt = lambda d: ", ".join("never" if x is None else str(x) for x in d) or "-"
            print(f"| {name} | {r['on'][0]:.3f} | {r['off'][0]:.3f} | {r['on'][1]} | {r['off'][1]} | "
                  f"{fmt(r['on'][2])} | {fmt(r['off'][2])} |")
        mean = lambda m: sum(r[m][0] for _, r in recovery_rows) / len(recovery_rows)
        print(f"| mean | {mean('on'):.3f} | {mean('off'):.3f} | | | | |")


if __name__ == "__main__":
    main()
