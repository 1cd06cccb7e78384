#!/usr/bin/env bash
# Needs: the release binary (`cargo build --release`), ORT (ORT_DYLIB_PATH or .ort/cpu), and the
#   12-view caches of docs/heads.md: work/tux/features12 (f32), work/tux/features12-int8 and
#   work/fm/features12-int8 (see docs/heads.md, "Accuracy"). Not run by CI.
# Does: every row of the accuracy tables in docs/heads.md, `pipeline cv --repeats 20` on the same 20
#   re-splits per cache, one JSON per row in benches/cv_<data>_<row>.json, and one summary line per
#   row with its wall time (`/usr/bin/time`).
# Usage: benches/cv_tables.sh [tux|fm|all=all]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
bin=target/release/pipeline
which=${1:-all}

row() { # row NAME CACHE ARGS...
    local name=$1 cache=$2
    shift 2
    local out=benches/cv_$name.json
    /usr/bin/time -f "%e s wall, %M KB peak" -o /tmp/cv_$name.time \
        "$bin" cv --features "$cache" --repeats 20 "$@" --json "$out" >/tmp/cv_$name.log
    echo "$name: $(tail -2 /tmp/cv_$name.log | head -1 | sed 's/^cv (20 repeats): //') [$(cat /tmp/cv_$name.time)]"
}

if [[ $which == tux || $which == all ]]; then
    t=work/tux/features12
    row tuxpaint_notebook $t --head mlp --preset notebook --views centre
    row tuxpaint_mlp $t --head mlp
    row tuxpaint_mlp_ensemble5 $t --head mlp --ensemble 5
    row tuxpaint_auto_no_ensemble $t --ensemble 1
    row tuxpaint_auto_centre $t --views centre
    row tuxpaint_auto_ten-crop $t --views ten-crop
    row tuxpaint_auto $t
    row tuxpaint_int8 work/tux/features12-int8
fi
if [[ $which == fm || $which == all ]]; then
    f=work/fm/features12-int8
    row fm2000_int8_notebook $f --head mlp --preset notebook --views centre
    row fm2000_int8_auto_no_ensemble $f --ensemble 1
    row fm2000_int8_auto_centre $f --views centre
    row fm2000_int8_auto_ten-crop $f --views ten-crop
    row fm2000_int8_auto $f
fi
