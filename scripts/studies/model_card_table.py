#!/usr/bin/env python3
"""The per-sequence dev table of models/README.md: success AUC and precision@20 per model and OpenCV peer, from
`siamtrack eval` reports (standard library only).

  scripts/studies/model_card_table.py LABEL=REPORT [LABEL=REPORT ...]
Each report's siamtrack column is shown under LABEL; the peers (kcf, csrt, mil) come from the first report that has
them, e.g. out/benchmark/report.json from scripts/benchmarks/benchmark.sh.
"""
import json
import sys


def main():
    columns = {}
    for arg in sys.argv[1:]:
        label, path = arg.split("=", 1)
        for t in json.load(open(path))["trackers"]:
            name = label if t["tracker"] in ("siamtrack", "siamfc") else t["tracker"]
            columns.setdefault(name, t)
    order = list(columns)
    print("| sequence | " + " | ".join(f"{n} AUC | {n} P@20" for n in order) + " |")
    print("|---|" + "---|---|" * len(order))
    scores = {n: {s["sequence"]: s for s in columns[n]["sequences"]} for n in order}
    for seq in scores[order[0]]:
        cells = []
        for n in order:
            s = scores[n].get(seq)
            cells += [f"{s['auc']:.3f}", f"{s['precision']:.3f}"] if s else ["-", "-"]
        print(f"| {seq} | " + " | ".join(cells) + " |")
    means = []
    for n in order:
        m = columns[n]["mean"]
        means += [f"**{m['auc']:.3f}**", f"**{m['precision']:.3f}**"]
    print("| mean | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
