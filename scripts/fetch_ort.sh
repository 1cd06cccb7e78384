#!/usr/bin/env bash
# Fetch ONNX Runtime's shared library from the PyPI wheel into .ort/ (git-ignored).
#   scripts/fetch_ort.sh          CPU build  -> .ort/cpu/libonnxruntime.so
#   scripts/fetch_ort.sh --gpu    CUDA 13 build (onnxruntime-gpu) -> .ort/gpu/
# Needs only python3 -m pip and PyPI; no venv, no root. Idempotent.
set -euo pipefail
ORT_VERSION="${ORT_VERSION:-1.31.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
variant=cpu; pkg=onnxruntime
if [ "${1:-}" = "--gpu" ]; then variant=gpu; pkg=onnxruntime-gpu; fi
dest="$root/.ort/$variant"
if [ -f "$dest/libonnxruntime.so" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$ORT_VERSION" ]; then
  echo "ONNX Runtime $ORT_VERSION ($variant) already in $dest"; exit 0
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --implementation cp --python-version 3.11 \
  --platform manylinux_2_28_x86_64 -d "$tmp" "$pkg==$ORT_VERSION"
mkdir -p "$dest"
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime") and ".so" in base:
            with z.open(name) as src, open(os.path.join(dest, base), "wb") as out:
                out.write(src.read())
PY
cd "$dest"
real="$(ls libonnxruntime.so.* | head -n1)"
ln -sf "$real" libonnxruntime.so
echo "$ORT_VERSION" > VERSION
echo "ONNX Runtime $ORT_VERSION ($variant) -> $dest/libonnxruntime.so"
