#!/usr/bin/env bash
# Needs: the release bench binary (`cargo bench --bench head_epoch --no-run`) and a Python with torch
#   (TORCH_PYTHON, default /work/torchvenv/bin/python; TORCH_EPOCHS timed epochs, default 15). Not needed by CI.
# Does: ROUNDS rounds, each one criterion run of the head epoch (benches/head_epoch.rs) then one
#   PyTorch run of the same epoch (benches/head_epoch_torch.py), both with THREADS threads; prints each
#   round's medians, the median over rounds of both, their ratio, and the load average (`uptime`)
#   before and after. Further bench binaries given after THREADS (e.g. an older build of the bench)
#   are timed in the same rounds: `benches/head_vs_torch.sh 5 2 /tmp/head_epoch_before`.
# Usage: benches/head_vs_torch.sh [ROUNDS=5] [THREADS=2] [EXTRA_BENCH_BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
threads=${2:-2}
shift $(($# < 2 ? $# : 2))
py=${TORCH_PYTHON:-/work/torchvenv/bin/python}
bin=$(ls -t target/release/deps/head_epoch-* | grep -v '\.d$' | head -1)
bins=("$bin" "$@")
export RAYON_NUM_THREADS=$threads MATMUL_NUM_THREADS=$threads

# Median epoch time in ms of one criterion run of binary $1.
rust_ms() {
    "$1" --bench 4096x4096 --warm-up-time 2 --measurement-time 6 --sample-size 10 --noplot 2>&1 |
        awk '/time:/ { gsub(/\[|\]/, ""); v = $4; u = $5; if (u == "s") v *= 1000; if (u == "µs") v /= 1000; print v; exit }'
}
torch_ms() {
    "$py" benches/head_epoch_torch.py --threads "$threads" --epochs "${TORCH_EPOCHS:-15}" |
        sed -E 's/.*epoch median ([0-9.]+) ms.*/\1/'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "load before: $(uptime)"
declare -A times
for r in $(seq "$rounds"); do
    line="round $r:"
    for i in "${!bins[@]}"; do
        t=$(rust_ms "${bins[$i]}")
        times[$i]+="$t "
        line+=" rust[$i] $t ms;"
    done
    t=$(torch_ms)
    times[torch]+="$t "
    line+=" torch $t ms"
    echo "$line"
done
echo "load after: $(uptime)"
tm=$(echo "${times[torch]}" | tr ' ' '\n' | grep . | median)
for i in "${!bins[@]}"; do
    m=$(echo "${times[$i]}" | tr ' ' '\n' | grep . | median)
    echo "rust[$i] ${bins[$i]}: median $m ms; torch median $tm ms; torch/rust = $(awk -v a="$tm" -v b="$m" 'BEGIN { printf "%.2f", a / b }')x"
done
