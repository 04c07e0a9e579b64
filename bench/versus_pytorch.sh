#!/usr/bin/env bash
# The CPU-speed issue's side-by-side run: bench/train_steps (ours) and bench/pytorch_steps.py
# (PyTorch, Debian's python3-torch) alternated per workload for ROUNDS rounds on one machine, so
# that both see the same load; prints each run and then the medians, the ratio PyTorch / ours
# and the peak RSS of each.
#   bash bench/versus_pytorch.sh [ROUNDS=3] [STEPS=5]      (after scripts/test.sh built ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-5}
[ -x build/bench/train_steps ] || { echo "versus_pytorch: build/bench/train_steps missing: run scripts/test.sh first"; exit 1; }
python3 -c "import torch" 2> /dev/null || /usr/bin/python3 -c "import torch" 2> /dev/null ||
    { echo "versus_pytorch: no torch: apt-get install python3-torch"; exit 1; }
results=$(mktemp)
trap 'rm -f "$results" "$results.json"' EXIT
./build/bench/train_steps workload=W1 steps=1 | sed -n 1p  # the GEMM back end
python3 bench/pytorch_steps.py workload=W1 steps=1 | sed -n 1,2p
for round in $(seq "$rounds"); do
    for w in W1 W2 W3; do
        ./build/bench/train_steps workload="$w" steps="$steps" json="$results.json" > /dev/null
        ours=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))[0]; print(r['step_seconds'], r['peak_rss_mib'])" \
            "$results.json")
        theirs=$(python3 bench/pytorch_steps.py workload="$w" steps="$steps" | awk -v w="$w" '$1 == w {print $2, $5}')
        echo "$round $w $ours $theirs" | tee -a "$results"
    done
done
echo "round workload: ours step s, ours peak MiB, PyTorch step s, PyTorch peak MiB (above); medians:"
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"{'':4} {'ours s':>8} {'PyTorch s':>10} {'ratio':>7} {'ours MiB':>9} {'PyTorch MiB':>12}")
for w in ("W1", "W2", "W3"):
    r = [x for x in rows if x[1] == w]
    ours, theirs = statistics.median(float(x[2]) for x in r), statistics.median(float(x[4]) for x in r)
    rss_ours, rss_theirs = max(int(float(x[3])) for x in r), max(int(float(x[5])) for x in r)
    print(f"{w:4} {ours:8.3f} {theirs:10.3f} {theirs / ours:6.2f}x {rss_ours:9d} {rss_theirs:12d}")
PY
