#!/usr/bin/env bash
# `pipeline run` end to end with wall time and peak memory per stage, from one run: the run goes
# under /usr/bin/time -v (exact peak RSS and wall of the whole), and its resident set is sampled
# every 0.2 s from /proc and charged to the stage its stderr last announced ("[4/6] extract", …;
# the audit and report after eval count as "eval+report"). Prints one JSON line (also appended to
# benches/runs.jsonl) with per-stage seconds and peak MB, the feature cache's size, test top-1.
#
#   benches/run_stages.sh DATA WORKDIR [pipeline run options…]
#   e.g. benches/run_stages.sh data/fashion-mnist work/fm70k --model models/efficientnet-lite0.onnx
#
# PIPELINE (default target/release/pipeline). WORKDIR is used as given (a fresh one measures
# everything; an existing one measures what `run` reuses).
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 2)) || { echo "usage: $0 DATA WORKDIR [pipeline run options…]" >&2; exit 2; }
data=$1 workdir=$2
shift 2
bin=${PIPELINE:-target/release/pipeline}
[[ -x $bin ]] || { echo "no $bin (cargo build --release, or set PIPELINE)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "no /usr/bin/time (apt-get install time)" >&2; exit 2; }
mkdir -p -- "$workdir"
log=$workdir/run_stages.stderr
out=$workdir/run_stages.stdout
samples=$workdir/run_stages.samples
export PIPELINE_NO_PROGRESS=1

/usr/bin/time -v "$bin" run --data "$data" --workdir "$workdir" "$@" >"$out" 2>"$log" &
tpid=$!
t0=$(date +%s.%N)
: >"$samples"
pid=
while kill -0 "$tpid" 2>/dev/null; do
    [[ -n $pid ]] || pid=$(pgrep -P "$tpid" | head -n 1 || true)
    if [[ -n $pid && -r /proc/$pid/status ]]; then
        rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        stage=$(grep -o '^\[[0-9]/[0-9]\] [a-z-]*' "$log" | tail -n 1 || true)
        [[ -n $rss ]] && printf '%s\t%s\t%s\n' "$(date +%s.%N)" "${stage:-start}" "$rss" >>"$samples"
    fi
    sleep 0.2
done
rc=0
wait "$tpid" || rc=$?

python3 - "$workdir" "$data" "$t0" "$rc" "$*" <<'PY'
import collections, datetime, json, os, re, socket, sys
w, data, t0, rc, args = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
log = open(os.path.join(w, "run_stages.stderr")).read()
stages = collections.OrderedDict()
for line in open(os.path.join(w, "run_stages.samples")):
    t, stage, rss = line.rstrip("\n").split("\t")
    stage = {"[6/6] eval": "eval+report"}.get(stage, stage.split(" ", 1)[-1])
    s = stages.setdefault(stage, {"first": float(t), "last": float(t), "peak_mb": 0})
    s["last"] = float(t)
    s["peak_mb"] = max(s["peak_mb"], round(int(rss) / 1024))
names = list(stages)
for i, n in enumerate(names):  # a stage lasts until the next one's first sample
    end = stages[names[i + 1]]["first"] if i + 1 < len(names) else stages[n]["last"]
    stages[n]["s"] = round(end - stages[n]["first"], 1)
    del stages[n]["first"], stages[n]["last"]
m = lambda pat: (re.search(pat, log) or [None, None])[1]
def size(d):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
feat = os.path.join(w, "features")
out = open(os.path.join(w, "run_stages.stdout")).read()
top1 = re.search(r"^test\s+top-1 ([0-9.]+) %", out, re.M)
res = {
    "bench": "run_stages", "date": datetime.date.today().isoformat(), "host": socket.gethostname(),
    "data": data, "args": args, "exit": rc,
    "wall_s": m(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)"),
    "peak_mb_time_v": round(int(m(r"Maximum resident set size \(kbytes\): (\d+)") or 0) / 1024),
    "stages": stages,
    "features_mb": round(size(feat) / 1e6, 1) if os.path.isdir(feat) else None,
    "test_top1": float(top1.group(1)) if top1 else None,
}
print(json.dumps(res))
with open("benches/runs.jsonl", "a") as f:
    f.write(json.dumps(res) + "\n")
PY
exit "$rc"
