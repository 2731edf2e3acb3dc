#!/usr/bin/env bash
# The encoder comparison of models/README.md ("What encoder training tried"): each training choice trained for 400
# steps (of a 1600-step cosine schedule, lr 3e-4, batch 8, so that every variant sees the same learning rate at
# the same step), exported, given the shipped model's tuned tracker block, and scored on the dev split with the
# Rust tracker. Untrained trunks are scored the same way. One line per variant goes to OUT/results.txt; the
# reports to OUT/eval/NAME/. Here one trained variant took 3-7 minutes to train and 2-3 to score.
#   scripts/studies/compare_training.sh [OUT_DIR] [DEV_DIR]     (SIAMTRACK=path: that binary, no build)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="$(realpath -m "${1:-out/compare}")"
DEV="${2:-../shared/data/dev}"
STEPS="${STEPS:-400}"  # the snapshot scored; later points of the curves in models/README.md: STEPS=800 etc.
mkdir -p "$OUT/models" "$OUT/runs"
if [ -n "${SIAMTRACK:-}" ]; then  # a binary built already
    BIN=$SIAMTRACK
else
    cargo build --release --quiet
    BIN=target/release/siamtrack
fi

score() {  # NAME SIDECAR [eval flags]: evaluate on dev, append the mean AUC and precision to results.txt
    local name=$1 sidecar=$2
    shift 2
    "$BIN" eval "$DEV" --model "$sidecar" --results-dir "$OUT/eval/$name" --plots "$OUT/eval/$name" "$@" > /dev/null
    python3 - "$name" "$OUT" <<'PY'
import json, sys
name, out = sys.argv[1:]
mean = json.load(open(f"{out}/eval/{name}/report.json"))["trackers"][0]["mean"]
line = f"{name} auc {mean['auc']:.3f} precision {mean['precision']:.3f}"
print(line)
open(f"{out}/results.txt", "a").write(line + "\n")
PY
}

tuned_tracker() {  # SIDECAR: take the shipped model's tracker block, keeping the model's own template crop
    python3 - "$1" <<'PY'
import json, sys
path = sys.argv[1]
sidecar, shipped = json.load(open(path)), json.load(open("models/effnet_lite0_s8.json"))
sidecar["tracker"] = dict(shipped["tracker"], template_crop=sidecar["tracker"]["template_crop"])
open(path, "w").write(json.dumps(sidecar, indent=2) + "\n")
PY
}

trained() {  # NAME [train.py flags]: train to step $STEPS, export that snapshot, score it
    local name=$1 run="$OUT/runs/$1"
    shift
    rm -rf "$run"
    python3 scripts/training/train.py --out "$run" --loss logistic --template-crop 8 --lr 3e-4 --warmup-steps 100 \
        --steps 1600 --snapshot-every "$STEPS" --eval-every 0 --coco-prob 0.25 --negative-prob 0.2 "$@" \
        > "$run.log" 2>&1 &
    local pid=$!
    while [ ! -f "$run/step_$STEPS.pt" ]; do
        kill -0 "$pid" 2> /dev/null || { echo "training $name failed: $run.log" >&2; exit 1; }
        sleep 10
    done
    kill "$pid"  # snapshots appear complete (written to a temporary file, then renamed)
    python3 scripts/training/export.py --checkpoint "$run/step_$STEPS.pt" --name "$name" --out-dir "$OUT/models" > /dev/null
    tuned_tracker "$OUT/models/$name.json"
    score "$name" "$OUT/models/$name.json"
}

score imagenet_depth5 models/effnet_lite0_s8.json
score imagenet_depth5_whole_template models/effnet_lite0_s8.json --set template_crop=0
python3 scripts/training/export.py --depth 8 --name imagenet_depth8 --out-dir "$OUT/models" > /dev/null
tuned_tracker "$OUT/models/imagenet_depth8.json"
score imagenet_depth8 "$OUT/models/imagenet_depth8.json"

trained logistic
trained triplet --loss triplet
trained train_all --unfreeze-step 0
trained freeze4 --freeze-blocks 4
trained neck64 --neck 64
trained whole_template --template-crop 0
trained depth8 --depth 8
trained coco60_lr1e-4 --coco-prob 0.6 --lr 1e-4
trained lr3e-5 --lr 3e-5
trained lr1e-5 --lr 1e-5
trained lr3e-5_seed1 --lr 3e-5 --seed 1
trained lr3e-5_seed2 --lr 3e-5 --seed 2
trained depth8_lr3e-5 --depth 8 --lr 3e-5
