#!/usr/bin/env bash
# The wheel as a user gets it (docs/install.md): build it (or take --wheel FILE), make a fresh venv
# in a temp folder, `pip install` it (dependencies from the package index), then, from an empty
# temp folder with HOME and XDG_* pointed into temp and no ORT_DYLIB_PATH, run `pipeline run --data`
# on the committed fixture photos (default backbone: built into the model store on first use),
# `predict`, `export`, `models list` and `doctor`; then uninstall the venv's onnxruntime and check
# that `doctor` fails naming every place it looked at. Asserts every step and that nothing was
# written outside the temp folder (the clone, the real HOME). Needs the package index through pip
# and minutes of CPU: run before a release, never in `cargo test` or CI.
#   scripts/wheel_check.sh [--wheel FILE] [--model PATH|NAME] [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wheel=""; model=""; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) wheel="$(realpath "$2")"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: scripts/wheel_check.sh [--wheel FILE] [--model PATH|NAME] [--keep]" >&2; exit 2 ;;
  esac
done
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pipeline-wheel-check.XXXXXX")"
ok=0
finish() {
  if [ "$ok" = 1 ] && [ "$keep" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap finish EXIT
mkdir -p "$root/work"
log="$root/work/wheel-check.log"
exec > >(tee "$log") 2>&1
step() { echo "== $(date -u +%H:%M:%S) $*"; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$(now) - $1:.1f}')"; }
fail() { echo "FAIL: $*"; exit 1; }

step "wheel"
if [ -z "$wheel" ]; then
  t0="$(now)"; wheel="$("$root/scripts/build_wheel.sh" "$tmp/wheels")"; echo "built in $(secs "$t0") s"
fi
wheel_mb="$(python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1])/1e6:.1f}')" "$wheel")"
echo "$wheel ($wheel_mb MB)"

real_home="$HOME"
data="$root/tests/fixtures/images/raw"
git_before="$(git -C "$root" status --porcelain --ignored 2>/dev/null || true)"
marker="$tmp/marker"; touch "$marker"; sleep 1
export HOME="$tmp/home" XDG_CACHE_HOME="$tmp/home/.cache" XDG_CONFIG_HOME="$tmp/home/.config" \
  XDG_DATA_HOME="$tmp/home/.local/share" XDG_STATE_HOME="$tmp/home/.local/state" TMPDIR="$tmp/tmp"
unset ORT_DYLIB_PATH PIPELINE_HOME PIPELINE_PYTHON VIRTUAL_ENV PYTHONPATH
mkdir -p "$HOME" "$TMPDIR"

step "fresh venv + pip install (dependencies from the index, empty pip cache)"
python3 -m venv "$tmp/venv"
t0="$(now)"
"$tmp/venv/bin/pip" install --quiet "$wheel"
install_s="$(secs "$t0")"
echo "installed in $install_s s: $("$tmp/venv/bin/pip" list 2>/dev/null | grep -Ei '^(pipeline-transfer|onnxruntime|onnx|numpy) ' | tr -s ' ' | paste -sd, -)"
export PATH="$tmp/venv/bin:$PATH"
[ "$(command -v pipeline)" = "$tmp/venv/bin/pipeline" ] || fail "pipeline is not the venv's"

mkdir -p "$tmp/empty"; cd "$tmp/empty"
step "pipeline run --data $data (from the empty folder $PWD)"
t0="$(now)"
status=0
pipeline run --data "$data" --device cpu ${model:+--model "$model"} > run.out 2> run.err || status=$?
run_s="$(secs "$t0")"
cat run.err run.out
[ "$status" = 0 ] || fail "pipeline run exited with $status"
echo "run took $run_s s"
if [ -z "$model" ]; then
  grep -q "building backbone vgg16-conv into $XDG_CACHE_HOME/pipeline/models" run.err \
    || fail "run did not build the default backbone into the store"
  test -s "$XDG_CACHE_HOME/pipeline/models/vgg16-conv-int8.onnx" || fail "no int8 sibling in the store"
fi
run_dir="$(sed -n 's/.* predict --run \([^ ]*\) .*/\1/p' run.out | head -n1)"
[ -d "$run_dir" ] || fail "no run directory in run's output"

step "pipeline predict"
pipeline predict --run "$run_dir" --device cpu "$data/alpha/a_00.png" "$data/beta/b_00.png" | tee predict.out
[ -s predict.out ] || fail "predict printed nothing"
step "pipeline export"
pipeline export --run "$run_dir" --out classifier.onnx
test -s classifier.onnx || fail "export wrote nothing"
step "pipeline models list"
pipeline models list
step "pipeline doctor"
pipeline doctor | tee doctor.out
grep -q "ONNX Runtime  .* at $tmp/venv/lib/python3.*/site-packages/onnxruntime/capi/" doctor.out \
  || fail "doctor does not name the venv's ONNX Runtime"

step "pipeline doctor without the venv's onnxruntime"
"$tmp/venv/bin/pip" uninstall --quiet --yes onnxruntime
if pipeline doctor > doctor-missing.out 2>&1; then fail "doctor succeeded without onnxruntime"; fi
cat doctor-missing.out
grep -q "looked at, in order" doctor-missing.out || fail "no list of places looked at"
grep -q -- "-m pip install 'onnxruntime>=1.26'" doctor-missing.out || fail "no fix command"

step "nothing written outside $tmp"
cd "$root"
git_after="$(git -C "$root" status --porcelain --ignored 2>/dev/null || true)"
[ "$git_before" = "$git_after" ] || { diff <(echo "$git_before") <(echo "$git_after") || true; fail "the clone changed"; }
leaks="$(find "$real_home" -maxdepth 3 -newer "$marker" \( -path "$real_home/.cache/pipeline*" -o -path "$real_home/.cache/pip*" -o -path "$real_home/.config*" -o -path "$real_home/.local*" -o -name '*pipeline*' \) 2>/dev/null || true)"
[ -z "$leaks" ] || { echo "$leaks"; fail "written into the real HOME"; }
echo "clone unchanged; nothing new in $real_home/.cache/pipeline, .cache/pip, .config, .local"

ok=1
step "PASS: wheel $wheel_mb MB, pip install $install_s s, pipeline run $run_s s (from an empty folder${model:+, --model $model})"
