#!/usr/bin/env python3
"""Fold the GPU check's step records (timed.py) into one JSON and print a short table.

  report.py --results DIR --out FILE --bundle DIR --status measured|cpu_smoke|no_gpu|cuda_failed [--reason R]

Every figure is copied from a step record, i.e. measured in this run; the only derived figures are
marked `_est` (extract's inference time = views / the bench rate of the same model at the nearest
batch; the rest of its time is decoding, resizing, copies and writing). Exit status: measured 0,
or 5 when a measurement step failed or was skipped (cpu_smoke likewise); no_gpu 3; cuda_failed 4. Standard library only.
"""
import argparse
import datetime
import glob
import json
import os
import re
import sys

SCHEMA = 1
EXIT = {"measured": 0, "cpu_smoke": 0, "no_gpu": 3, "cuda_failed": 4}
F16_ROWS = ("f16 rows are `pipeline bench` on a float16 copy of the same graph (scripts/gpu/f16_model.py: "
            "float16 weights and activations, float32 input and output), run through the same execution provider")


def precision_note(machine):
    flag = machine.get("bench_has_precision_flag")
    if flag is None:
        return "unknown whether pipeline bench has a --precision flag; " + F16_ROWS
    if flag:
        return "pipeline bench has a --precision flag, which this check does not use yet; " + F16_ROWS
    return "pipeline bench and extract have no --precision flag; " + F16_ROWS


def load(path):
    with open(path) as f:
        return json.load(f)


def steps(results):
    return {os.path.basename(p)[:-5]: load(p) for p in sorted(glob.glob(os.path.join(results, "*.json")))
            if os.path.basename(p) != "env.json"}


def first_json(rec):
    return (rec.get("json") or [{}])[0]


def parts(bundle):
    rows = []
    manifest = os.path.join(bundle, "parts.sha256")
    if os.path.isfile(manifest):
        for line in open(manifest):
            digest, name = line.split()
            path = os.path.join(bundle, name)
            rows.append({"name": name, "sha256": digest,
                         "bytes": os.path.getsize(path) if os.path.exists(path) else None})
    return rows


def gpu_use(rec):
    g = rec.get("gpu") or {}
    return {"gpu_util_mean_pct": g.get("gpu_util_mean_pct"),
            "process_gpu_mem_max_mib": g.get("process_gpu_mem_max_mib")}


def bench_rows(recs):
    rows = []
    for name, rec in recs.items():
        m = re.fullmatch(r"bench\.([^.]+)\.(f32|f16)\.b(\d+)", name)
        if not m or rec.get("rc") != 0:
            continue
        j = first_json(rec)
        rows.append({"model": m.group(1), "precision": m.group(2), "batch": int(m.group(3)),
                     "images_per_sec": j.get("images_per_sec"), "median_seconds_per_batch": j.get("median_seconds_per_batch"),
                     "repeats": j.get("repeats"), "provider": j.get("provider"), "wall_s": rec.get("wall_s"),
                     **gpu_use(rec)})
    return sorted(rows, key=lambda r: (r["precision"] != "f32", r["model"], r["batch"]))


def bench_rate(bench, model, batch):
    same = [r for r in bench if r["model"] == model and r["precision"] == "f32" and r["images_per_sec"]]
    if not same:
        return None
    return min(same, key=lambda r: abs(r["batch"] - batch))["images_per_sec"]


def extract_rows(recs, bench, extract_batch):
    rows = []
    for name, rec in recs.items():
        m = re.fullmatch(r"extract\.([^.]+)\.([^.]+)", name)
        if not m or rec.get("rc") != 0:
            continue
        model = m.group(1)
        stats = rec.get("attached") or {}
        text = rec.get("stdout_tail", "")
        images = stats.get("new_images")
        if images is None:
            found = re.search(r"extracted ([\d,]+) images", text)
            images = int(found.group(1).replace(",", "")) if found else None
        secs, views = stats.get("seconds"), stats.get("views")
        rate = bench_rate(bench, model, extract_batch)
        infer = round(views / rate, 3) if views and rate else None
        cpu = round(rec.get("user_s", 0) + rec.get("sys_s", 0), 2)
        rows.append({"model": model, "views_config": m.group(2), "cmd": rec.get("cmd"), "images": images,
                     "views": views, "seconds": secs, "views_per_sec": stats.get("views_per_sec"),
                     "images_per_sec": round(images / secs, 1) if images and secs else None,
                     "provider": stats.get("provider"), "wall_s": rec.get("wall_s"), "cpu_s": cpu,
                     "cores_busy_mean": round(cpu / rec["wall_s"], 2) if rec.get("wall_s") else None,
                     "inference_s_est": infer,
                     "other_s_est": round(secs - infer, 3) if secs and infer is not None else None,
                     **gpu_use(rec)})
    return rows


def torch_rows(recs):
    out = {}
    for kind in ("bare", "e2e"):
        rec = recs.get(f"torch.{kind}")
        if rec and rec.get("rc") == 0:
            out[kind] = [dict(j, **({"wall_s": rec.get("wall_s")} if kind == "e2e" else {})) for j in rec.get("json", [])]
    return out


def provider(recs):
    proof = recs.get("proof.cuda") or {}
    controls = []
    for name, rec in recs.items():
        if name.startswith("control."):
            err = (rec.get("stderr_tail") or "").strip().splitlines()
            controls.append({"name": name, "rc": rec.get("rc"), "refused": rec.get("rc") not in (0, None),
                             "message": err[-1] if err else None})
    return {"bench_provider": first_json(proof).get("provider"), "proof_rc": proof.get("rc"),
            "process_gpu_mem_max_mib": (proof.get("gpu") or {}).get("process_gpu_mem_max_mib"),
            "controls": controls}


def step_list(recs):
    rows = []
    for name, rec in recs.items():
        row = {"name": name, "rc": rec.get("rc"), "wall_s": rec.get("wall_s")}
        if rec.get("skipped"):
            row["skipped"] = rec["skipped"]
        elif rec.get("rc") != 0 and not name.startswith("control."):
            row["error"] = (rec.get("stderr_tail") or "")[-600:]
        rows.append(row)
    return rows


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec) if isinstance(v, (int, float)) else str(v)


def table(doc):
    m = doc["machine"]
    gpu = (m.get("gpu") or {}).get("name") or "none"
    lines = [f"GPU check: {doc['status']}" + (f" ({doc['reason']})" if doc.get("reason") else ""),
             f"GPU {gpu}; {m.get('cores')} cores; ONNX Runtime {m.get('onnxruntime_version')}; "
             f"{m.get('pipeline_version')}; torch {(m.get('torch') or {}).get('version', '-')}"]
    if doc["bench"]:
        lines.append("bench (pipeline bench): model precision batch images/s gpu-util%")
        lines += [f"  {r['model']:<18} {r['precision']:<4} {r['batch']:>4} {fmt(r['images_per_sec']):>9} "
                  f"{fmt(r['gpu_util_mean_pct']):>6}" for r in doc["bench"]]
    if doc["extract"]:
        lines.append("extract (end to end): model views images views/s images/s cores-busy gpu-util% infer_s_est/s")
        lines += [f"  {r['model']:<18} {r['views_config']:<9} {fmt(r['images'], 'd'):>6} {fmt(r['views_per_sec']):>8} "
                  f"{fmt(r['images_per_sec']):>8} {fmt(r['cores_busy_mean']):>6} {fmt(r['gpu_util_mean_pct']):>6} "
                  f"{fmt(r['inference_s_est'], '.2f')}/{fmt(r['seconds'], '.2f')}" for r in doc["extract"]]
    for kind, rows in doc["torch"].items():
        lines.append(f"torch {kind}: model precision batch images/s")
        lines += [f"  {r.get('model', '-'):<18} {r.get('precision', '-'):<16} {fmt(r.get('batch'), 'd'):>4} "
                  f"{fmt(r.get('images_per_sec')):>9}" for r in rows]
    bad = [s for s in doc["steps"] if s.get("skipped") or s.get("error")]
    lines += [f"  step {s['name']}: {s.get('skipped') or 'failed, exit ' + str(s['rc'])}" for s in bad]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--status", required=True, choices=sorted(EXIT))
    ap.add_argument("--reason", default="")
    ap.add_argument("--budget", type=int)
    ap.add_argument("--extract-batch", type=int, default=64)
    args = ap.parse_args()
    env_path = os.path.join(args.results, "env.json")
    recs = steps(args.results)
    bench = bench_rows(recs)
    machine = load(env_path) if os.path.isfile(env_path) else {}
    doc = {
        "schema_version": SCHEMA,
        "status": args.status,
        "reason": args.reason or None,
        "written_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "parts": {"bundle": args.bundle, "verified": True, "parts": parts(args.bundle)},
        "provider": provider(recs),
        "precision_note": precision_note(machine),
        "budget_s": args.budget,
        "bench": bench,
        "extract": extract_rows(recs, bench, args.extract_batch),
        "torch": torch_rows(recs),
        "steps": step_list(recs),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)
    print(table(doc))
    print(f"wrote {args.out}")
    code = EXIT[args.status]
    if code == 0 and any(s.get("skipped") or s.get("error") for s in doc["steps"]):
        code = 5
    sys.exit(code)


if __name__ == "__main__":
    main()
