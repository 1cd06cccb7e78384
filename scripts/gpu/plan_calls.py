#!/usr/bin/env python3
"""Plan the device calls that carry the parts of scripts/gpu_parts.sh to a GPU machine.

Reads PARTS/parts.sha256 and the parts' sizes; packs parts in order into calls so that each call
carries parts.sha256 plus at most 7 parts (the tool takes 8 carry paths) and the working tree plus
what it carries stays under --call-limit bytes. Every call but the last stages its parts
(`scripts/gpu_check.sh stage`); the last carries the remaining parts and runs the check. Writes
PARTS/calls.json and PARTS/calls.txt and prints the text. Standard library only.
"""
import argparse
import json
import os
import sys

MAX_PARTS_PER_CALL = 7
STAGE_CMD = "scripts/gpu_check.sh stage"
RUN_CMD = "scripts/gpu_check.sh run"
STAGE_TIMEOUT_S = 120
RUN_TIMEOUT_S = 600


def plan(parts, sizes, manifest_bytes, tree_bytes, limit):
    """Greedy in order: a new call when the next part would pass the limit or the path count."""
    budget = limit - tree_bytes - manifest_bytes
    calls, cur, used = [], [], 0
    for p in parts:
        if sizes[p] > budget:
            sys.exit(f"error: part {p} is {sizes[p]:,} bytes; with the working tree ({tree_bytes:,} bytes) "
                     f"a call holds at most {budget:,}: use a smaller --part-size")
        if cur and (used + sizes[p] > budget or len(cur) == MAX_PARTS_PER_CALL):
            calls.append(cur)
            cur, used = [], 0
        cur.append(p)
        used += sizes[p]
    if cur:
        calls.append(cur)
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", required=True, help="folder holding parts.sha256 and the parts")
    ap.add_argument("--rel", required=True, help="that folder relative to the repository root")
    ap.add_argument("--tree-bytes", type=int, required=True)
    ap.add_argument("--call-limit", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--glibc", default="unknown", help="newest glibc symbol version the binary needs")
    args = ap.parse_args()

    with open(os.path.join(args.parts, "parts.sha256")) as f:
        parts = [line.split()[1] for line in f if line.strip()]
    sizes = {p: os.path.getsize(os.path.join(args.parts, p)) for p in parts}
    manifest_bytes = os.path.getsize(os.path.join(args.parts, "parts.sha256"))
    groups = plan(parts, sizes, manifest_bytes, args.tree_bytes, args.call_limit)
    where = "" if args.rel == "gpu-parts" else f" --parts {args.rel}"
    calls = []
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        calls.append({
            "call": i + 1,
            "carry": [f"{args.rel}/parts.sha256"] + [f"{args.rel}/{p}" for p in group],
            "command": (RUN_CMD if last else STAGE_CMD) + where,
            "timeout_s": RUN_TIMEOUT_S if last else STAGE_TIMEOUT_S,
            "carried_bytes": manifest_bytes + sum(sizes[p] for p in group),
            "with_tree_bytes": args.tree_bytes + manifest_bytes + sum(sizes[p] for p in group),
        })
    doc = {"parts": [{"name": p, "bytes": sizes[p]} for p in parts], "tree_bytes": args.tree_bytes,
           "call_limit": args.call_limit, "binary_needs_glibc": args.glibc, "calls": calls}
    with open(os.path.join(args.parts, "calls.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    mib = 1024 * 1024
    lines = [f"{len(parts)} parts, {sum(sizes.values()) / mib:.1f} MiB; working tree {args.tree_bytes / mib:.1f} MiB; "
             f"binary needs {args.glibc}",
             f"device calls, one after another (the machine stays warm 30 s after each; parts wait in "
             f"/var/tmp/pipeline-gpu until the last call):"]
    for c in calls:
        lines.append(f"  {c['call']}. run(command={c['command']!r}, carry={json.dumps(c['carry'])}, "
                     f"timeout_s={c['timeout_s']})  # {c['with_tree_bytes'] / mib:.1f} MiB with the tree")
    lines.append("the last call writes $OUT/gpu_check.json and $OUT/gpu_check.log; then give_back")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.parts, "calls.txt"), "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
