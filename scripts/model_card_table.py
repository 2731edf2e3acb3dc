#!/usr/bin/env python3
"""The per-sequence dev table of models/README.md: success AUC and precision@20 of the shipped model, the untrained
backbone and the OpenCV peers, from `siamtrack eval` reports (standard library only).

  scripts/model_card_table.py SHIPPED_REPORT UNTRAINED_REPORT
SHIPPED_REPORT holds siamfc (the shipped model) and the peers, e.g. out/benchmark/report.json from
scripts/benchmark.sh; UNTRAINED_REPORT a siamfc eval of models/effnet_lite0_s8.json on the same sequences.
"""
import json
import sys


def by_tracker(path, rename=None):
    report = json.load(open(path))
    return {(rename or {}).get(t["tracker"], t["tracker"]): t for t in report["trackers"]}


def main():
    trackers = by_tracker(sys.argv[1], {"siamfc": "shipped"})
    trackers.update(by_tracker(sys.argv[2], {"siamfc": "untrained"}))
    order = [n for n in ["shipped", "untrained", "csrt", "kcf", "mil"] if n in trackers]
    print("| sequence | " + " | ".join(f"{n} AUC | {n} P@20" for n in order) + " |")
    print("|---|" + "---|---|" * len(order))
    scores = {n: {s["sequence"]: s for s in trackers[n]["sequences"]} for n in order}
    for seq in scores[order[0]]:
        cells = []
        for n in order:
            s = scores[n].get(seq)
            cells += [f"{s['auc']:.3f}", f"{s['precision']:.3f}"] if s else ["-", "-"]
        print(f"| {seq} | " + " | ".join(cells) + " |")
    means = []
    for n in order:
        m = trackers[n]["mean"]
        means += [f"**{m['auc']:.3f}**", f"**{m['precision']:.3f}**"]
    print("| mean | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
