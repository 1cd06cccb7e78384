#!/usr/bin/env bash
# Pack what a lent GPU machine lacks into parts the device tool can carry (docs/gpu.md):
# ONNX Runtime's CUDA build (3 libraries of the onnxruntime-gpu wheel) and the pipeline binary,
# each a deterministic tar.xz split into parts of at most --part-size bytes.
#
#   scripts/gpu_parts.sh --bin target/release/pipeline (--wheel W.whl | --ort-dir DIR)
#                        [--out gpu-parts] [--part-size 57671680] [--call-limit 67108864]
#
# Writes OUT/<archive>-NN (archive = ort, bin), OUT/parts.sha256 (sha256sum format; what
# scripts/gpu_check.sh verifies), OUT/calls.json and OUT/calls.txt: the device calls in order, each
# carrying parts.sha256 and at most 7 parts whose bytes plus the working tree stay under
# --call-limit. The ort archive is cached in OUT/cache/ by the libraries' hashes (xz -1 of its
# 313 MB: 95 s of CPU; XZ_LEVEL sets the level, default 1: the CUDA kernels are compressed already,
# xz -1 gives 188 MB for the 284 MB provider and zstd -19 186 MB). Needs: bash, tar, xz, unzip (for
# --wheel), split, sha256sum, git, python3 (standard library).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="" wheel="" ort_dir="" out="$root/gpu-parts"
part_size=$((55 * 1024 * 1024)) call_limit=$((64 * 1024 * 1024))
die() { echo "error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --wheel) wheel="${2:?--wheel needs a path}"; shift 2 ;;
    --ort-dir) ort_dir="${2:?--ort-dir needs a path}"; shift 2 ;;
    --out) out="${2:?--out needs a path}"; shift 2 ;;
    --part-size) part_size="${2:?--part-size needs bytes}"; shift 2 ;;
    --call-limit) call_limit="${2:?--call-limit needs bytes}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$bin" ] && [ -f "$bin" ] || die "--bin: no pipeline binary at '${bin:-}' (run \`cargo build --release\`)"
[ -n "$wheel" ] || [ -n "$ort_dir" ] || die "give --wheel onnxruntime_gpu-*.whl or --ort-dir DIR"
[[ "$part_size" =~ ^[0-9]+$ && "$part_size" -gt 0 ]] || die "--part-size must be a positive byte count"
mkdir -p "$out/cache"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
TAR=(tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)

# ort/: the three libraries, the unversioned link, VERSION and CONTENTS.sha256.
mkdir -p "$tmp/ort/ort"
if [ -n "$wheel" ]; then
  [ -f "$wheel" ] || die "--wheel: no file '$wheel'"
  unzip -q -j -o "$wheel" 'onnxruntime/capi/libonnxruntime.so.*' \
    'onnxruntime/capi/libonnxruntime_providers_shared.so' \
    'onnxruntime/capi/libonnxruntime_providers_cuda.so' -d "$tmp/ort/ort"
else
  for f in "$ort_dir"/libonnxruntime.so.* "$ort_dir/libonnxruntime_providers_shared.so" \
           "$ort_dir/libonnxruntime_providers_cuda.so"; do
    [ -f "$f" ] || die "--ort-dir: missing $(basename "$f") in $ort_dir"
    cp "$f" "$tmp/ort/ort/"
  done
fi
(
  cd "$tmp/ort/ort"
  core="$(ls libonnxruntime.so.* | head -n1)"
  ln -s "$core" libonnxruntime.so
  echo "${core#libonnxruntime.so.}" > VERSION
  sha256sum "$core" libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so > CONTENTS.sha256
)
ort_key="$(sha256sum "$tmp/ort/ort/CONTENTS.sha256" | cut -c1-16)-xz${XZ_LEVEL:-1}"
ort_xz="$out/cache/ort-$ort_key.tar.xz"
if [ ! -f "$ort_xz" ]; then
  echo "compressing ONNX Runtime's CUDA build (xz -${XZ_LEVEL:-1}; minutes) -> $ort_xz"
  "${TAR[@]}" -C "$tmp/ort" -cf - ort | xz "-${XZ_LEVEL:-1}" -T1 > "$ort_xz.tmp"
  mv "$ort_xz.tmp" "$ort_xz"
fi

# bin/: the pipeline binary and CONTENTS.sha256.
mkdir -p "$tmp/bin/bin"
cp "$bin" "$tmp/bin/bin/pipeline"
chmod 755 "$tmp/bin/bin/pipeline"
(cd "$tmp/bin/bin" && sha256sum pipeline > CONTENTS.sha256)
"${TAR[@]}" -C "$tmp/bin" -cf - bin | xz "-${XZ_LEVEL:-1}" -T1 > "$tmp/bin.tar.xz"

rm -f "$out"/ort-[0-9][0-9] "$out"/bin-[0-9][0-9] "$out/parts.sha256" "$out/calls.json" "$out/calls.txt"
split -b "$part_size" -d -a 2 "$ort_xz" "$out/ort-"
split -b "$part_size" -d -a 2 "$tmp/bin.tar.xz" "$out/bin-"
(cd "$out" && sha256sum ort-[0-9][0-9] bin-[0-9][0-9] > parts.sha256)

# What travels with every call besides the carried paths: tracked and untracked-not-ignored files.
tree_bytes="$(cd "$root" && git ls-files -co --exclude-standard -z 2>/dev/null \
  | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')"
glibc="$(objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1 || true)"
python3 "$here/gpu/plan_calls.py" --parts "$out" --tree-bytes "$tree_bytes" --call-limit "$call_limit" \
  --rel "$(realpath --relative-to="$root" "$out")" --glibc "${glibc:-unknown}"
