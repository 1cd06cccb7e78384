#!/usr/bin/env python3
"""Score an audit.json against the answer key of scripts/plant_faults.py (standard library only).

  scripts/audit_score.py AUDIT_JSON KEY_JSONL

Prints one JSON object: planted copies found per kind (a copy and its original flagged as a pair,
whatever splits they landed in), near-duplicate pairs that are not planted copies, each planted
misfiling's (copied or moved into a wrong class) rank in the listed label issues, how many
misfilings were called hard images instead, the label issues that are no planted misfiling, and
the lists' lengths.
"""
import json
import sys


def rel(p):
    return p.split("/", 1)[1]  # drop the split


def main():
    audit = json.load(open(sys.argv[1]))
    key = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
    pairs = {frozenset((rel(d["a"]), rel(d["b"]))) for d in audit["near_duplicates"]}
    planted = {}
    found = {}
    for k in key:
        if "original" not in k:
            continue
        pair = frozenset((k["path"], k["original"]))
        planted[pair] = k["fault"]
        found.setdefault(k["fault"], [0, 0])
        found[k["fault"]][1] += 1
        found[k["fault"]][0] += pair in pairs
    issues = [rel(i["path"]) for i in audit["label_issues"]]
    hard = [rel(i["path"]) for i in audit.get("hard_images", [])]
    misfiled = [k["path"] for k in key if k["fault"] in ("wrong_class", "moved")]
    ranks = {p: (issues.index(p) + 1 if p in issues else None) for p in misfiled}
    others = sorted(" ~ ".join(sorted(p)) for p in pairs - set(planted))
    print(json.dumps({
        "images": audit["images"],
        "oof_accuracy": round(audit["oof_accuracy"], 3),
        "copies_found": {f: f"{a}/{b}" for f, (a, b) in found.items()},
        "other_pairs": len(others),
        "other_pair_list": others,
        "label_issues_listed": len(issues),
        "label_issues_found": audit.get("label_check", {}).get("found", len(issues)),
        "hard_images_listed": len(hard),
        "misfiling_ranks": ranks,
        "misfiled_found": f"{sum(r is not None for r in ranks.values())}/{len(ranks)}",
        "misfiled_as_hard": sum(p in hard for p in misfiled),
        "false_label_errors": sorted(set(issues) - set(misfiled)),
    }, indent=1))


if __name__ == "__main__":
    main()
