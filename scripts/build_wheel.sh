#!/usr/bin/env bash
# Build the `pipeline` wheel (maturin, `bindings = "bin"`, pyproject.toml) into target/wheels/ and
# print its path. The binary is linked for glibc 2.28 through zig (`maturin --zig`), so the wheel is
# manylinux_2_28 like onnxruntime's own. maturin and ziglang come from PyPI into .wheel-tools/
# (git-ignored) on first use. Release build: minutes.
#   scripts/build_wheel.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/wheels}"
tools="$root/.wheel-tools"
if ! "$tools/bin/maturin" --version >/dev/null 2>&1 || ! "$tools/bin/python" -c 'import ziglang' 2>/dev/null; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.5,<2' ziglang
fi
mkdir -p "$out"
(cd "$root" && PATH="$tools/bin:$PATH" maturin build --release --zig --compatibility manylinux_2_28 -o "$out" >&2)
ls -t "$out"/pipeline_transfer-*.whl | head -n1
