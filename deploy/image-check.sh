#!/usr/bin/env bash
# Runs the built image's `pipeline` on real data without a container runtime: the image's root file
# system is mounted (`podman create` + `podman mount`), a work folder is bind-mounted into it at
# /mnt/work, and `pipeline extract --shard 0/2` runs in it with chroot. Shard 1/2 runs outside with
# PIPELINE, the finaliser inside again, and the cache must be byte-identical (every shard file,
# manifest.json but its `stats`) to one extract by PIPELINE outside. For machines where `podman run`
# cannot start containers (deploy/README.md); needs root.
#
#   sudo deploy/image-check.sh            # IMAGE=localhost/pipeline:latest
#
# Environment: IMAGE, PIPELINE (default target/release/pipeline), DATA (a raw class tree, default
# data/tuxpaint), MODEL (default models/vgg16-conv-int8.onnx), WORK (default work/image-check;
# emptied first), EXTRACT_ARGS (default "--views dense --passes 0 --chunk-size 32"), PYTHON
# (default python3). Exit status 0 when the caches match, 1 when not, 2 for what is missing.
set -euo pipefail

me=image-check.sh
die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 2
}
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

IMAGE=${IMAGE:-localhost/pipeline:latest}
PIPELINE=$(realpath -- "${PIPELINE:-target/release/pipeline}")
DATA=${DATA:-data/tuxpaint}
MODEL=$(realpath -- "${MODEL:-models/vgg16-conv-int8.onnx}")
WORK=${WORK:-work/image-check}
EXTRACT_ARGS=${EXTRACT_ARGS:---views dense --passes 0 --chunk-size 32}
PYTHON=${PYTHON:-python3}

(($(id -u) == 0)) || die "needs root (podman mount, mount --bind, chroot); run it with sudo"
command -v podman >/dev/null || die "podman not found (apt-get install podman)"
podman image exists "$IMAGE" || die "no image $IMAGE (build it: see deploy/README.md)"
[[ -x $PIPELINE ]] || die "no pipeline binary at $PIPELINE (cargo build --release, or set PIPELINE)"
[[ -d $DATA ]] || die "no image tree at $DATA (just fetch-tuxpaint, or set DATA)"
[[ -r $MODEL && -r ${MODEL%.onnx}.json ]] || die "no model $MODEL with its sidecar ${MODEL%.onnx}.json"

rm -rf -- "$WORK"
mkdir -p -- "$WORK/model" "$WORK/logs"
WORK=$(realpath -- "$WORK")
cp -- "$MODEL" "${MODEL%.onnx}.json" "$WORK/model/"
model=$(basename -- "$MODEL")
export PIPELINE_NO_PROGRESS=1
"$PIPELINE" split "$DATA" --out "$WORK/split" --mode copy >"$WORK/logs/split.log" 2>&1 ||
    die "pipeline split failed (see $WORK/logs/split.log)"

cid=$(podman create "$IMAGE" true)
m=$(podman mount "$cid")
cleanup() {
    umount "$m/mnt/work" 2>/dev/null || true
    umount "$m/proc" 2>/dev/null || true
    podman umount "$cid" >/dev/null 2>&1 || true
    podman rm "$cid" >/dev/null 2>&1 || true
}
trap cleanup EXIT
mkdir -p -- "$m/mnt/work" "$m/proc"
mount --bind "$WORK" "$m/mnt/work"
mount -t proc proc "$m/proc"

read -r -a xargs <<<"$EXTRACT_ARGS"
inside() { # inside LOG ARGS...: pipeline in the image's root, with the image's ENV
    local log=$1
    shift
    chroot "$m" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin ORT_DYLIB_PATH=/opt/onnxruntime/libonnxruntime.so \
        PIPELINE_NO_PROGRESS=1 HOME=/root /bin/sh -c 'cd /work && exec pipeline "$@"' sh "$@" >"$log" 2>&1 ||
        die "pipeline $* failed inside $IMAGE (see $log)"
}
ex_in=(extract --model "/mnt/work/model/$model" --data /mnt/work/split --out /mnt/work/cache "${xargs[@]}")
ex_out=(extract --model "$WORK/model/$model" --data "$WORK/split" --out "$WORK/cache" "${xargs[@]}")

inside "$WORK/logs/version.log" --version
printf '%s: %s in %s (root file system %s)\n' "$me" "$(cat "$WORK/logs/version.log")" "$IMAGE" "$m"
t0=$(date +%s.%N)
inside "$WORK/logs/shard0-inside.log" "${ex_in[@]}" --shard 0/2
t1=$(date +%s.%N)
printf '%s: inside: %s (%.1f s)\n' "$me" "$(grep -m1 '^extracted' "$WORK/logs/shard0-inside.log")" "$(bc -l <<<"$t1 - $t0")"
"$PIPELINE" "${ex_out[@]}" --shard 1/2 >"$WORK/logs/shard1-outside.log" 2>&1 ||
    die "shard 1/2 outside failed (see $WORK/logs/shard1-outside.log)"
inside "$WORK/logs/finalise-inside.log" "${ex_in[@]}"
printf '%s: finalised inside: %s\n' "$me" "$(tail -n 1 "$WORK/logs/finalise-inside.log")"
"$PIPELINE" extract --model "$WORK/model/$model" --data "$WORK/split" --out "$WORK/ref" "${xargs[@]}" \
    >"$WORK/logs/ref-outside.log" 2>&1 || die "the reference extract failed (see $WORK/logs/ref-outside.log)"

"$PYTHON" - "$WORK/cache" "$WORK/ref" <<'PY'
import json, pathlib, sys
a, b = (pathlib.Path(p) for p in sys.argv[1:3])
def load(d):
    m = json.loads((d / "manifest.json").read_text())
    stats = m.pop("stats")
    return m, {p.name: p.read_bytes() for p in (d / "shards").iterdir()}, stats
(ma, sa, st), (mb, sb, _) = load(a), load(b)
same = sa.keys() == sb.keys() and all(sa[k] == sb[k] for k in sa)
print(f"image-check.sh: {len(sa)} vs {len(sb)} shard files, {sum(sa[k] == sb.get(k) for k in sa)} byte-identical; "
      f"manifest without stats {'identical' if ma == mb else 'DIFFERENT'}; provider {st['provider']}, model {st['model_path']}")
sys.exit(0 if same and ma == mb else 1)
PY
