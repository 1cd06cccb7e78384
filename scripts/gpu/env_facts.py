#!/usr/bin/env python3
"""Facts about the machine the GPU check runs on, as one JSON file (read by report.py).

Records: host, cores, memory, glibc, Python, the pipeline binary's --version, the ONNX Runtime
version it was given, the GPU line from nvidia-smi, the library folders put on LD_LIBRARY_PATH and
the CUDA libraries missing there; with --torch 1, torch's, its CUDA's and cuDNN's versions and the
GPU torch sees. Each fact is read here, at run time; one that cannot be read is null.
"""
import argparse
import json
import os
import platform
import subprocess
import sys


def run(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def flag_in(pipeline, command, flag):
    """Whether `pipeline COMMAND --help` lists FLAG; None when the help cannot be read."""
    text = run([pipeline, command, "--help"])
    return None if text is None else flag in text


def memory_gib():
    text = read("/proc/meminfo") or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def torch_facts():
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
        return {"error": f"import torch: {e}"}
    facts = {"version": torch.__version__, "cuda": torch.version.cuda,
             "cudnn": torch.backends.cudnn.version(), "cuda_available": torch.cuda.is_available()}
    if facts["cuda_available"]:
        p = torch.cuda.get_device_properties(0)
        facts.update(device=p.name, multiprocessors=p.multi_processor_count,
                     memory_gib=round(p.total_memory / 2**30, 1))
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--ort-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gpu", default="", help="nvidia-smi's name, driver, memory line")
    ap.add_argument("--lib-dirs", default="")
    ap.add_argument("--missing-libs", default="")
    ap.add_argument("--torch", default="0")
    args = ap.parse_args()
    gpu = None
    if args.gpu:
        name, driver, mem = ([c.strip() for c in args.gpu.splitlines()[0].split(",")] + [None] * 3)[:3]
        gpu = {"name": name, "driver": driver, "memory": mem}
    facts = {
        "host": platform.node(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "glibc": " ".join(platform.libc_ver()),
        "python": sys.version.split()[0],
        "pipeline_version": run([args.pipeline, "--version"]),
        "bench_has_precision_flag": flag_in(args.pipeline, "bench", "--precision"),
        "onnxruntime_version": read(os.path.join(args.ort_dir, "VERSION")),
        "gpu": gpu,
        "lib_dirs": [d for d in args.lib_dirs.split(":") if d],
        "missing_libs": args.missing_libs.split(),
        "git_head": run(["git", "rev-parse", "HEAD"]),
    }
    if args.torch == "1":
        facts["torch"] = torch_facts()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
