# Task runner for humans and CI. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

export ORT_DYLIB_PATH := env_var_or_default("ORT_DYLIB_PATH", justfile_directory() + "/.ort/cpu/libonnxruntime.so")
export PIPELINE_PYTHON := justfile_directory() + "/.venv/bin/python"

default:
    @just --list

# Fetch ONNX Runtime's shared library from the PyPI wheel into .ort/cpu (add --gpu for CUDA).
fetch-ort *ARGS:
    scripts/fetch_ort.sh {{ARGS}}

# A small Python venv (.venv) with numpy, onnx and pillow: model and dataset scripts, model-building tests.
venv:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c 'import numpy, onnx, PIL' 2>/dev/null || .venv/bin/pip install --quiet --disable-pip-version-check numpy onnx pillow

# fmt check + clippy -D warnings + all tests (what .ci/run runs).
ci: fetch-ort venv
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
    cargo test

# Run the tests.
test: fetch-ort venv
    cargo test
