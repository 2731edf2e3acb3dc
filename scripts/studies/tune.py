#!/usr/bin/env python3
"""Random search of the tracker's hyper-parameters with the Rust tracker itself (`siamtrack eval --set`).

Trial 0 is the sidecar as it is; each further trial draws every searched parameter uniformly from its range.
Prints a table sorted by mean success AUC and, with --write, stores the best trial's values in the sidecar's
`tracker` block (only when it beats trial 0). Standard library only.

  scripts/studies/tune.py --model models/NAME.json [--data ../shared/data/dev] [--sequences a,b] [--trials 12] [--write]
"""
import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# name: (low, high, decimals)
SEARCH = {
    "window_influence": (0.10, 0.50, 3),
    "scale_step": (1.02, 1.08, 4),
    "scale_penalty": (0.94, 0.995, 4),
    "scale_lr": (0.30, 0.80, 3),
}


def evaluate(args, settings, out_dir):
    cmd = [args.binary, "eval", str(args.data), "--model", str(args.model), "--results-dir", str(out_dir),
           "--plots", str(out_dir)]
    if args.sequences:
        cmd += ["--sequences", args.sequences]
    for setting in args.set + [f"{key}={value}" for key, value in settings.items()]:
        cmd += ["--set", setting]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((out_dir / "report.json").read_text())
    mean = report["trackers"][0]["mean"]
    return mean["auc"], mean["precision"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "dev")
    parser.add_argument("--sequences", help="comma-separated subset (default: all)")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "tune")
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "siamtrack"))
    parser.add_argument("--write", action="store_true", help="store the best values in the sidecar")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="fixed hyper-parameter override for every trial (repeatable)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sidecar = json.loads(args.model.read_text())
    trials = [{key: sidecar["tracker"][key] for key in SEARCH}]
    for _ in range(args.trials - 1):
        trials.append({k: round(rng.uniform(lo, hi), d) for k, (lo, hi, d) in SEARCH.items()})
    results = []
    for i, settings in enumerate(trials):
        auc, precision = evaluate(args, settings, args.out / f"trial{i:02d}")
        results.append((auc, precision, i, settings))
        print(f"trial {i}: AUC {auc:.3f} precision {precision:.3f} {settings}", file=sys.stderr, flush=True)
    print("| trial | AUC | precision@20 | " + " | ".join(SEARCH) + " |")
    print("|---|---|---|" + "---|" * len(SEARCH))
    for auc, precision, i, settings in sorted(results, key=lambda r: -r[0]):
        print(f"| {i} | {auc:.3f} | {precision:.3f} | " + " | ".join(str(settings[k]) for k in SEARCH) + " |")
    best = max(results, key=lambda r: r[0])
    if args.write and best[2] != 0:
        sidecar["tracker"].update(best[3])
        args.model.write_text(json.dumps(sidecar, indent=2) + "\n")
        print(f"wrote trial {best[2]}'s values to {args.model}", file=sys.stderr)


if __name__ == "__main__":
    main()
