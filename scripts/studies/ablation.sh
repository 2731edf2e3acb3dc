#!/usr/bin/env bash
# Ablation of the tracker on a dataset (default: the dev split): one `siamtrack eval` run per variant, one after
# the other (run it on an otherwise idle machine: the ms per update are only comparable within one run of this
# script), then a markdown table of mean success AUC, precision @20 px, ms per update and update rate relative to
# CSRT to stdout and to OUT_DIR/table.md. The first variant also runs CSRT on the same frames, for the per-sequence
# table and the rate ratios.
# Three groups of variants: GROUP=components (default), the target model and the scale filter each on and off on
# the float encoder (as first built); GROUP=speed, the steps from the three-crop tracker to the shipped one;
# GROUP=shipped, each part of the shipped tracker switched off in turn.
# Usage: scripts/studies/ablation.sh [DATASET_DIR] [MODEL_SIDECAR] [OUT_DIR]; ONLY="name name..." runs only those
# variants; MODEL_SIDECAR (default models/effnet_lite0_s8.json, the float twin of the default) is used where a
# variant names none; SIAMTRACK=path/to/siamtrack uses that binary instead of building target/release/siamtrack.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA="${1:-../shared/data/dev}"
MODEL="${2:-models/effnet_lite0_s8.json}"
OUT="${3:-out/ablation}"
[ -d "$DATA" ] || { echo "dataset folder $DATA not found" >&2; exit 1; }
if [ -n "${SIAMTRACK:-}" ]; then  # a binary built already
    BIN=$SIAMTRACK
else
    cargo build --release --quiet
    BIN=target/release/siamtrack
fi

# name | what it shows | model sidecar (empty: MODEL_SIDECAR) | --set flags on top of the sidecar's
# What the components ablation held fixed, as before the speed work: full crops, nine scan tiles, no colour model,
# a square template, no scale vote, no learned metric.
BEFORE_SPEED="confident_search_size=0 max_scan_tiles=9 colour_weight=0 template_box_mask=false scale_vote=false learned_metric=false"
# The target model as it was before its filter got the box support (rows that retrace history pin it).
WHOLE_CROP_MODEL="target_support=0 target_solve_every=1"
COMPONENTS=(
  "template|Siamese template only, 3 scales (the default before the one-crop tracker)||target_weight=0 scale_num=3 scale_filter_scales=0 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "template+model|+ online target model, fused 0.5/0.5, updates on tracking frames where it agrees||target_weight=0.5 scale_num=3 scale_filter_scales=0 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "template+model-noupdate|+ target model learned from the first frame only||target_weight=0.5 target_learning_rate=0 scale_num=3 scale_filter_scales=0 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "onepass-template+scale|one search crop, Siamese template, scale filter for the size||target_weight=0 scale_num=1 scale_filter_scales=17 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "onepass-template+model+scale|one search crop, template + target model, scale filter||target_weight=0.5 scale_num=1 scale_filter_scales=17 $BEFORE_SPEED $WHOLE_CROP_MODEL"
)
SPEED=(
  "3crops-float|three 255 crops, template only, float encoder (the default before)||target_weight=0 scale_num=3 scale_filter_scales=0 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "1crop-float|one 255 crop + target model + scale filter, float encoder||target_weight=0.5 scale_num=1 scale_filter_scales=17 $BEFORE_SPEED $WHOLE_CROP_MODEL"
  "1crop-float-scan2|+ two scan tiles per lost frame (was up to 9)||target_weight=0.5 scale_num=1 scale_filter_scales=17 confident_search_size=0 max_scan_tiles=2 colour_weight=0 template_box_mask=false scale_vote=false $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8|+ static int8 encoder|models/effnet_lite0_s8_int8.json|confident_search_size=0 colour_weight=0 template_box_mask=false scale_vote=false target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191|+ 191 px crop while confident|models/effnet_lite0_s8_int8.json|colour_weight=0 template_box_mask=false scale_vote=false target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour|+ colour model|models/effnet_lite0_s8_int8.json|template_box_mask=false scale_vote=false target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour-mask|+ template masked to the box|models/effnet_lite0_s8_int8.json|scale_vote=false target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour-mask-vote3|+ scale vote of templates at three scales|models/effnet_lite0_s8_int8.json|scale_vote_steps=1 target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour-mask-vote5|+ five scales|models/effnet_lite0_s8_int8.json|target_weight=0.5 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour-mask-vote5-w01|+ target model at weight 0.1 instead of 0.5|models/effnet_lite0_s8_int8.json|target_weight=0.1 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-159-colour-mask-vote5-w01|159 px crop while confident instead|models/effnet_lite0_s8_int8.json|confident_search_size=159 target_weight=0.1 $WHOLE_CROP_MODEL learned_metric=false"
  "1crop-int8-191-colour-mask-vote5-box|+ target model's filter bound to the target's box, solved every 2nd sample, at weight 0.25|models/effnet_lite0_s8_int8.json|learned_metric=false"
  "1crop-int8-191-colour-mask-vote5-box-metric|+ the learned channel metric on the template (the shipped default)|models/effnet_lite0_s8_int8.json|"
)
# Each part of the shipped tracker switched off in turn, on the shipped int8 encoder.
INT8=models/effnet_lite0_s8_int8.json
SHIPPED=(
  "shipped|the shipped default: all parts on|$INT8|"
  "square-template|template not masked to the first box|$INT8|template_box_mask=false"
  "no-learned-metric|the template correlated by the plain dot product (no learned channel metric)|$INT8|learned_metric=false"
  "no-target-model|no online target model|$INT8|target_weight=0"
  "whole-crop-model|the target model's filter over the whole crop, solved every sample, at weight 0.1 (the default before)|$INT8|target_weight=0.1 $WHOLE_CROP_MODEL"
  "box-model-weight-0.5|the box-bound target model at weight 0.5|$INT8|target_weight=0.5"
  "box-model-every-sample|the box-bound target model solved on every sample|$INT8|target_solve_every=1"
  "no-colour-model|no colour model|$INT8|colour_weight=0"
  "no-scale-vote|no scale vote of templates at five scales|$INT8|scale_vote=false"
  "vote-3-scales|the scale vote at three scales (SiamFC-3s) instead of five|$INT8|scale_vote_steps=1"
  "no-scale-filter|no scale filter (the size from the scale vote alone)|$INT8|scale_filter_scales=0"
  "no-sizing|neither scale vote nor scale filter (the box keeps its first size)|$INT8|scale_vote=false scale_filter_scales=0"
  "no-recovery|never declared lost, so no re-detection|$INT8|lost_after=1000000"
  "full-crop|255 px search crop on every frame|$INT8|confident_search_size=0"
  "three-crops|the three-crop template tracker of before (the speed group's first row), int8|$INT8|target_weight=0 scale_num=3 scale_filter_scales=0 $BEFORE_SPEED $WHOLE_CROP_MODEL"
)
case "${GROUP:-components}" in
    components) VARIANTS=("${COMPONENTS[@]}") ;;
    speed) VARIANTS=("${SPEED[@]}") ;;
    shipped) VARIANTS=("${SHIPPED[@]}") ;;
    *) echo "GROUP must be components, speed or shipped" >&2; exit 1 ;;
esac

if [ -n "${ONLY:-}" ]; then
    kept=()
    for v in "${VARIANTS[@]}"; do
        [[ " $ONLY " == *" ${v%%|*} "* ]] && kept+=("$v")
    done
    VARIANTS=("${kept[@]}")
fi
rm -rf "$OUT"
mkdir -p "$OUT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" | tee "$OUT/load.txt" >&2
first=1
for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name _ model sets <<<"$v"
    args=()
    for s in $sets; do args+=(--set "$s"); done
    trackers=siamtrack
    [ $first = 1 ] && trackers=siamtrack,csrt
    first=0
    echo "+ $name" >&2
    "$BIN" eval "$DATA" --model "${model:-$MODEL}" --tracker "$trackers" "${args[@]}" \
        --results-dir "$OUT/$name" --report "$OUT/$name.json" --plots "$OUT/$name" >/dev/null
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt" >&2

python3 - "$OUT" "${VARIANTS[@]}" <<'PY'
import json, sys
out, variants = sys.argv[1], [v.split("|") for v in sys.argv[2:]]
reports = {name: json.load(open(f"{out}/{name}.json")) for name, *_ in variants}
first = reports[variants[0][0]]
csrt = next((t for t in first["trackers"] if t["tracker"] == "csrt"), None)
csrt_fps = csrt["mean"]["tracker_fps"] if csrt else float("nan")
lines = ["| variant | what | mean AUC | P@20 | ms per update | update rate / CSRT's |", "|---|---|---|---|---|---|"]
for name, what, *_ in variants:
    m = next(t for t in reports[name]["trackers"] if t["tracker"] in ("siamtrack", "siamfc"))["mean"]
    lines.append(f"| `{name}` | {what} | {m['auc']:.3f} | {m['precision']:.3f} | {1000 / m['tracker_fps']:.1f} "
                 f"| {m['tracker_fps'] / csrt_fps:.2f}x |")
if csrt:
    m = csrt["mean"]
    lines.append(f"| `csrt` | OpenCV CSRT, same frames as the first row | {m['auc']:.3f} | {m['precision']:.3f} "
                 f"| {1000 / m['tracker_fps']:.1f} | 1.00x |")
lines += ["", "Success AUC per sequence:", ""]
names = [v[0] for v in variants] + (["csrt"] if csrt else [])
lines.append("| sequence | " + " | ".join(f"`{n}`" for n in names) + " |")
lines.append("|---|" + "---|" * len(names))
per = {}
for name, *_ in variants:
    per[name] = {s["sequence"]: s["auc"] for t in reports[name]["trackers"] if t["tracker"] in ("siamtrack", "siamfc")
                 for s in t["sequences"]}
if csrt:
    per["csrt"] = {s["sequence"]: s["auc"] for s in csrt["sequences"]}
for seq in per[variants[0][0]]:
    lines.append(f"| {seq} | " + " | ".join(f"{per[n].get(seq, float('nan')):.3f}" for n in names) + " |")
text = "\n".join(lines) + "\n"
open(f"{out}/table.md", "w").write(text)
print(text)
PY
