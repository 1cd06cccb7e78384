# Task runner for humans and CI. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

export ORT_DYLIB_PATH := env_var_or_default("ORT_DYLIB_PATH", justfile_directory() + "/.ort/cpu/libonnxruntime.so")

default:
    @just --list

# Fetch ONNX Runtime's shared library from the PyPI wheel into .ort/cpu (add --gpu for CUDA).
fetch-ort *ARGS:
    scripts/fetch_ort.sh {{ARGS}}

# fmt check + clippy -D warnings + all tests.
ci: fetch-ort
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
    cargo test

# Run the tests.
test: fetch-ort
    cargo test
