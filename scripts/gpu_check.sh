#!/usr/bin/env bash
# The GPU check: one command, run from the repository root on a lent GPU machine (docs/gpu.md).
#
#   scripts/gpu_check.sh [run|stage|verify] [options]
#
#   stage   verify the parts carried in this call (PARTS/parts.sha256 + PARTS/<archive>-NN, made by
#           `just gpu-parts`) and keep them in STAGE/<bundle>/, which outlives the call while the
#           machine stays warm
#   verify  check that every part the manifest lists is staged and intact
#   run     (default) stage what this call carries, verify every part, reassemble ONNX Runtime's
#           CUDA build and the pipeline binary, build the models, make the JPEGs, prove the CUDA
#           provider runs the session, measure (bench, extract, torch), write OUT/gpu_check.json
#
# Options: --parts DIR (gpu-parts)  --stage DIR (/var/tmp/pipeline-gpu)  --out DIR ($OUT, else gpu-out)
#          --images N (3000)  --batches "32 64 128"  --repeats N (10)  --extract-batch N (64)
#          --budget SECONDS (420: measurement steps that would start later are skipped)
#          --no-torch  --no-f16
#          --device cpu: the whole flow on CPU with --device cpu (no GPU, no controls), to try the
#          script on a machine without a GPU; status cpu_smoke, its figures are not GPU figures
# Environment: PYTHON (python3), NVIDIA_SMI (nvidia-smi), EXTRACT_CONFIGS ('|'-separated
#          name=extract-args; default: the binary's default views, the centre view, one view/image)
# Exit: 0 all measured; 2 bad arguments, or a part missing or corrupt (each one named);
#       3 no GPU here (the JSON says so); 4 the CUDA provider or its libraries failed (named);
#       5 measured, but some steps failed or were skipped (listed in the JSON); 1 anything else.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
PY="${PYTHON:-python3}"
SMI="${NVIDIA_SMI:-nvidia-smi}"
mode=run parts="$root/gpu-parts" stage="/var/tmp/pipeline-gpu" out="${OUT:-$root/gpu-out}"
images=3000 batches="32 64 128" repeats=10 extract_batch=64 budget=420 torch=1 f16=1 dev=cuda
EXTRACT_CONFIGS="${EXTRACT_CONFIGS:-default=|centre=--views centre --passes 0|one-view=--passes 1}"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
bad_arg() { echo "error: $*; see scripts/gpu_check.sh --help" >&2; exit 2; }
posint() { [[ "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || bad_arg "$1 needs a positive integer, got '$2'"; }

case "${1:-}" in run|stage|verify) mode="$1"; shift ;; esac
while [ $# -gt 0 ]; do
  case "$1" in --parts|--stage|--out|--images|--batches|--repeats|--extract-batch|--budget|--device)
    [ $# -ge 2 ] || bad_arg "$1 needs a value" ;;
  esac
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --stage) stage="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --images) posint "$1" "$2"; images="$2"; shift 2 ;;
    --batches) for b in $2; do posint "$1" "$b"; done; batches="$2"; shift 2 ;;
    --repeats) posint "$1" "$2"; repeats="$2"; shift 2 ;;
    --extract-batch) posint "$1" "$2"; extract_batch="$2"; shift 2 ;;
    --budget) posint "$1" "$2"; budget="$2"; shift 2 ;;
    --device) [[ "$2" == cuda || "$2" == cpu ]] || bad_arg "--device is cuda or cpu, got '$2'"; dev="$2"; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --no-f16) f16=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bad_arg "unknown argument '$1'" ;;
  esac
done

# --- parts: stage, verify, assemble -------------------------------------------------------------

# Sets $bundle (STAGE/<first 16 hex of the manifest's sha256>) from the carried manifest, else from
# the bundle staged last.
find_bundle() {
  if [ -f "$parts/parts.sha256" ]; then
    local id; id="$(sha256sum "$parts/parts.sha256" | cut -c1-16)"
    bundle="$stage/$id"
    mkdir -p "$bundle" || { echo "error: cannot create the stage folder $bundle" >&2; exit 1; }
    cp "$parts/parts.sha256" "$bundle/parts.sha256"
    ln -sfn "$id" "$stage/current"
  elif [ -f "$stage/current/parts.sha256" ]; then
    bundle="$(readlink -f "$stage/current")"
  else
    echo "error: no parts manifest: neither $parts/parts.sha256 (carry it with every call; \`just gpu-parts\` makes it) nor one staged in $stage" >&2
    exit 2
  fi
}

# Copies each listed part this call carries into the bundle after checking its hash.
stage_carried() {
  local hash name got staged=()
  while read -r hash name; do
    [ -f "$parts/$name" ] || continue
    got="$(sha256sum "$parts/$name" | cut -d' ' -f1)"
    if [ "$got" != "$hash" ]; then
      echo "error: part $name carried in this call is corrupt: sha256 $got, parts.sha256 says $hash; remake the parts with \`just gpu-parts\` and carry $name again" >&2
      exit 2
    fi
    if [ ! -f "$bundle/$name" ] || [ "$(sha256sum "$bundle/$name" | cut -d' ' -f1)" != "$hash" ]; then
      cp "$parts/$name" "$bundle/$name.tmp" && mv "$bundle/$name.tmp" "$bundle/$name"
    fi
    staged+=("$name")
  done < "$bundle/parts.sha256"
  echo "staged in $bundle: ${staged[*]:-(nothing carried in this call)}"
}

# Names every missing or corrupt part of the bundle; exits 2 if there is one.
verify_bundle() {
  local hash name got missing=() corrupt=()
  while read -r hash name; do
    if [ ! -f "$bundle/$name" ]; then
      missing+=("$name")
    else
      got="$(sha256sum "$bundle/$name" | cut -d' ' -f1)"
      [ "$got" = "$hash" ] || corrupt+=("$name (sha256 $got, parts.sha256 says $hash)")
    fi
  done < "$bundle/parts.sha256"
  for c in "${corrupt[@]}"; do echo "error: part $c is corrupt in $bundle" >&2; done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "error: missing part(s) ${missing[*]}: not carried in this call nor staged in $bundle; carry them (the calls of gpu-parts/calls.txt, in order, with the machine kept warm)" >&2
  fi
  [ ${#missing[@]} -eq 0 ] && [ ${#corrupt[@]} -eq 0 ] || exit 2
  echo "all $(wc -l < "$bundle/parts.sha256") parts present and intact in $bundle"
}

unxz() {
  if command -v xz > /dev/null && [ -z "${GPU_CHECK_NO_XZ:-}" ]; then xz -dc
  else "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer, 1 << 20)'
  fi
}

# Reassembles every archive of the bundle into $bundle/assembled (once) and checks CONTENTS.sha256.
assemble() {
  A="$bundle/assembled"
  [ -f "$A/.complete" ] && { echo "already assembled in $A"; return; }
  rm -rf "$A.tmp" && mkdir -p "$A.tmp"
  local name files
  for name in $(sed -E 's/^[0-9a-f]+ +//; s/-[0-9]+$//' "$bundle/parts.sha256" | sort -u); do
    files=("$bundle/$name"-[0-9]*)
    cat "${files[@]}" | unxz | tar -x -C "$A.tmp" \
      || { echo "error: archive $name (parts $name-NN) does not unpack: remake the parts" >&2; exit 2; }
    [ -f "$A.tmp/$name/CONTENTS.sha256" ] \
      || { echo "error: archive $name has no $name/CONTENTS.sha256: not made by scripts/gpu_parts.sh" >&2; exit 2; }
    (cd "$A.tmp/$name" && sha256sum --quiet -c CONTENTS.sha256) \
      || { echo "error: files of archive $name do not match its CONTENTS.sha256" >&2; exit 2; }
  done
  rm -rf "$A" && mv "$A.tmp" "$A" && touch "$A/.complete"
  echo "assembled $(ls "$A" | tr '\n' ' ')in $A"
}

# One line about the machine, so that the first call already says what the last will find.
probe() {
  local gpu py
  gpu="$("$SMI" -L 2>/dev/null | head -n1)"
  py="$("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
  echo "machine: ${gpu:-no GPU listed by $SMI}; $(nproc) cores; $(ldd --version 2>/dev/null | head -n1); python ${py:-missing}; xz $(command -v xz > /dev/null && echo present || echo 'missing (python lzma used)')"
}

find_bundle
stage_carried
[ "$mode" = stage ] && { probe; exit 0; }
verify_bundle
[ "$mode" = verify ] && exit 0
assemble

# --- measurement --------------------------------------------------------------------------------
mkdir -p "$out"
exec > >(tee -a "$out/gpu_check.log") 2> >(tee -a "$out/gpu_check.log" >&2)
W="$stage/work" RES="$stage/work/results"
rm -rf "$RES" && mkdir -p "$RES" "$W/models"
PIPE="$A/bin/pipeline" ORTLIB="$A/ort/libonnxruntime.so"
export PIPELINE_NO_PROGRESS=1
t_start=$SECONDS
cores="$(nproc)"

report() {  # report STATUS [REASON]
  "$PY" "$here/gpu/report.py" --results "$RES" --out "$out/gpu_check.json" --bundle "$bundle" \
    --status "$1" --reason "${2:-}" --budget "$budget" --extract-batch "$extract_batch"
}

if [ "$dev" = cpu ]; then
  gpu="none (--device cpu)"
elif ! command -v "$SMI" > /dev/null; then
  gpu="" why="$SMI not found"
else
  gpu="$("$SMI" --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)" || { why="$SMI failed: $gpu"; gpu=""; }
  [ -n "$gpu" ] || why="${why:-$SMI lists no GPU}"
fi
if [ -z "$gpu" ]; then
  "$PY" "$here/gpu/env_facts.py" --pipeline "$PIPE" --ort-dir "$A/ort" --out "$RES/env.json"
  report no_gpu "no GPU on this machine: $why"
  echo "no GPU here: parts verified and assembled, nothing measured (exit 3)" >&2
  exit 3
fi
echo "GPU: $gpu; $cores cores"

# CUDA 13 / cuDNN 9 from the machine's Python (its nvidia-* packages), then the toolkit's folder.
libdirs="$("$PY" - <<'PY'
import glob, os, sys
seen = []
for base in sys.path:
    for d in sorted(glob.glob(os.path.join(base, "nvidia", "*", "lib")) + glob.glob(os.path.join(base, "nvidia", "cu*", "lib"))):
        if d not in seen:
            seen.append(d)
seen += [d for d in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib") if os.path.isdir(d)]
print(":".join(seen))
PY
)"
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing="$(ldd "$A/ort/libonnxruntime_providers_cuda.so" | awk '/not found/ {print $1}' | tr '\n' ' ')"
{ [ -n "$libdirs" ] && ls ${libdirs//:/ } 2>/dev/null | grep -q '^libcudnn\.so\.9'; } || missing+="libcudnn.so.9 (cuDNN 9)"
"$PY" "$here/gpu/env_facts.py" --pipeline "$PIPE" --ort-dir "$A/ort" --out "$RES/env.json" \
  --gpu "$gpu" --lib-dirs "$libdirs" --missing-libs "$missing" --torch "$torch"
[ "$dev" = cpu ] && missing=""
if [ -n "$missing" ]; then
  report cuda_failed "CUDA libraries not found on this machine: $missing(searched $libdirs)"
  exit 4
fi

# step NAME TIMEOUT CMD...: one measured command (wall, CPU, GPU use sampled) into RES/NAME.json;
# ATTACH=FILE:KEY embeds that key of a JSON file the command wrote.
step() {
  local name="$1" limit="$2"; shift 2
  local extra=()
  [ -n "${ATTACH:-}" ] && extra=(--attach "$ATTACH")
  if [ $((SECONDS - t_start)) -ge "$budget" ]; then
    "$PY" "$here/gpu/timed.py" --name "$name" --results "$RES" --skip "time budget of ${budget}s spent" -- "$@"
    return 125
  fi
  echo "--- $name"
  "$PY" "$here/gpu/timed.py" --name "$name" --results "$RES" --timeout "$limit" --nvidia-smi "$SMI" \
    "${extra[@]}" -- "$@"
}

M="$W/models" FC7="$W/models/vgg16-random-fc7.onnx" CONV="$W/models/vgg16-conv-random.onnx"
[ -f "$FC7" ] || step make.fc7 240 "$PY" "$root/scripts/make_vgg16_random.py" --out "$FC7"
[ -f "$CONV" ] || step make.conv 120 "$PY" "$root/scripts/make_vgg16_conv_random.py" --out "$CONV"
if [ "$f16" = 1 ]; then
  for m in vgg16-random-fc7 vgg16-conv-random; do
    [ -f "$M/$m-f16.onnx" ] || step "make.f16-$m" 180 "$PY" "$here/gpu/f16_model.py" --in "$M/$m.onnx" --out "$M/$m-f16.onnx"
  done
fi
D="$W/jpegs-$images"
[ -f "$D.complete" ] || step make.jpegs 300 "$PY" "$here/gpu/make_jpegs.py" --out "$D" --images "$images" --workers "$cores"

# The provider: the binary must refuse --device cuda where CUDA cannot register, and run on it here.
cpu_ort="$("$PY" -c 'import glob, os, onnxruntime as o; print((sorted(glob.glob(os.path.join(os.path.dirname(o.__file__), "capi", "libonnxruntime.so*"))) or [""])[0])' 2>/dev/null)"
if [ -n "$cpu_ort" ] && [ "$dev" = cuda ]; then
  step control.cpu-only-ort 60 "$PIPE" bench --model "$CONV" --device cuda --ort-lib "$cpu_ort" --batch 1 --repeats 1 --json
fi
[ "$dev" = cuda ] && step control.no-cuda-libs 60 env LD_LIBRARY_PATH= "$PIPE" bench --model "$CONV" --device cuda --ort-lib "$ORTLIB" --batch 1 --repeats 1 --json
if ! step proof.cuda 120 "$PIPE" bench --model "$FC7" --device "$dev" --ort-lib "$ORTLIB" --batch "${batches%% *}" --repeats "$repeats" --json; then
  report cuda_failed "pipeline bench --device cuda failed: see the step proof.cuda"
  exit 4
fi

precisions="f32"; [ "$f16" = 1 ] && precisions="f32 f16"
for p in $precisions; do
  for m in vgg16-random-fc7 vgg16-conv-random; do
    model="$M/$m.onnx"; [ "$p" = f16 ] && model="$M/$m-f16.onnx"
    for b in $batches; do
      step "bench.$m.$p.b$b" 120 "$PIPE" bench --model "$model" --device "$dev" --ort-lib "$ORTLIB" --batch "$b" --repeats "$repeats" --json
    done
  done
done

IFS='|' read -r -a configs <<< "$EXTRACT_CONFIGS"
for m in vgg16-conv-random vgg16-random-fc7; do
  for c in "${configs[@]}"; do
    name="${c%%=*}" args="${c#*=}" cache="$W/cache/$m-${c%%=*}"
    rm -rf "$cache"
    # shellcheck disable=SC2086 # args is a word list by design
    ATTACH="$cache/manifest.json:stats" step "extract.$m.$name" 300 "$PIPE" extract --model "$M/$m.onnx" \
      --data "$D" --out "$cache" --device "$dev" --ort-lib "$ORTLIB" --workers "$cores" --batch "$extract_batch" $args
    rm -rf "$cache"
  done
done

if [ "$torch" = 1 ]; then
  step torch.bare 240 "$PY" "$here/gpu/torch_peer.py" bare --batches "$batches" --repeats "$repeats" --device "$dev"
  step torch.e2e 300 "$PY" "$here/gpu/torch_peer.py" e2e --data "$D" --workers "$cores" --batch "$extract_batch" --device "$dev"
fi

if [ "$dev" = cpu ]; then report cpu_smoke "--device cpu: a try of the flow, not GPU figures"; else report measured; fi
