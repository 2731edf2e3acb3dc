#!/usr/bin/env bash
# Soak test: tracks FRAMES generated frames (GStreamer videotestsrc, every frame tracked) and samples the process's
# resident memory and open file descriptors once a second. Fails when, after warm-up (the first 20% of the run),
# memory grows more than 10% or 20 MiB, descriptors grow, or (runs of 10,000 frames or more: a shorter run's fifths
# last a second or two, and one busy second on a shared machine would fail it) the fps of the last fifth falls below
# 70% of the second fifth. Usage: scripts/benchmarks/soak.sh [FRAMES=100000] [OUT_DIR=out/soak]
set -euo pipefail
cd "$(dirname "$0")/../.."
frames=${1:-100000}
out=${2:-out/soak}
bin=${SIAMTRACK:-target/release/siamtrack}
mkdir -p "$out"
pipeline="videotestsrc num-buffers=$frames pattern=ball ! video/x-raw,width=160,height=120 ! videoconvert ! appsink sync=false"
"$bin" track "$pipeline" --bbox 60,40,40,40 --every-frame --no-display --log "$out/track.csv" > "$out/summary.txt" &
pid=$!
echo "seconds,rss_kib,fds" > "$out/samples.csv"
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l || true)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds" >> "$out/samples.csv"
    sleep 1
done
wait "$pid"
cat "$out/summary.txt"
python3 - "$out" "$frames" <<'PY'
import csv, sys
out, frames = sys.argv[1], int(sys.argv[2])
samples = [tuple(map(int, r.values())) for r in csv.DictReader(open(f"{out}/samples.csv"))]
rows = list(csv.DictReader(open(f"{out}/track.csv")))
assert len(rows) == frames, f"{len(rows)} log rows for {frames} frames"
warm = samples[max(1, len(samples) // 5):]
rss0, rss1 = warm[0][1], max(s[1] for s in warm)
fd0, fd1 = warm[0][2], max(s[2] for s in warm)
t = [float(r["timestamp_ms"]) for r in rows]
# Pipelines are timestamped by wall clock, so frames per second of each fifth is frames / elapsed time.
fifth = len(t) // 5
fps = [fifth / max(1e-9, (t[(i + 1) * fifth - 1] - t[i * fifth]) / 1000) for i in range(5)]
growth = rss1 - rss0
print(f"rss after warm-up {rss0} KiB, max {rss1} KiB (+{growth} KiB); fds {fd0} -> max {fd1}; "
      f"fps per fifth {' '.join(f'{f:.1f}' for f in fps)}")
fps_ok = frames < 10000 or fps[4] >= 0.7 * fps[1]
ok = growth <= max(0.10 * rss0, 20 * 1024) and fd1 <= fd0 and fps_ok
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
