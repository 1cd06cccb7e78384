#!/usr/bin/env python3
"""Run one command of the GPU check and record what it cost, as RESULTS/NAME.json.

  timed.py --name NAME --results DIR [--timeout S] [--nvidia-smi PATH] [--attach FILE:KEY] -- CMD...
  timed.py --name NAME --results DIR --skip REASON -- CMD...   (records the step as skipped)

Records: the command, exit status (124 on timeout), wall seconds, the children's user and system
CPU seconds (wait4's rusage), every stdout line that is a JSON object, the last 4,000
characters of stdout and stderr, and, every 0.2 s while it runs (when nvidia-smi works): the GPU's
utilisation and memory in use, and the memory the command's own process holds on the GPU
(--query-compute-apps). --attach embeds KEY of a JSON file the command wrote (e.g. a cache
manifest's stats). Exits with the command's status. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

SAMPLE_S = 0.2
TAIL = 4000


def smi(path, *query):
    """Rows of `nvidia-smi --query-...=... --format=csv,noheader,nounits`, or [] when it fails."""
    try:
        out = subprocess.run([path, *query, "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [[c.strip() for c in line.split(",")] for line in out.stdout.splitlines() if line.strip()]


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


class Sampler(threading.Thread):
    """Samples GPU utilisation, GPU memory in use and the child's own GPU memory until stopped."""

    def __init__(self, path, pid):
        super().__init__(daemon=True)
        self.path, self.pid = path, pid
        self.util, self.mem, self.proc_mem = [], [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for row in smi(self.path, "--query-gpu=utilization.gpu,memory.used")[:1]:
                u, m = number(row[0]), number(row[1])
                if u is not None:
                    self.util.append(u)
                if m is not None:
                    self.mem.append(m)
            for row in smi(self.path, "--query-compute-apps=pid,used_memory"):
                if len(row) == 2 and row[0] == str(self.pid) and number(row[1]) is not None:
                    self.proc_mem.append(number(row[1]))
            self.stop.wait(SAMPLE_S)

    def summary(self):
        mean = lambda v: round(sum(v) / len(v), 1) if v else None  # noqa: E731
        return {"samples": len(self.util), "gpu_util_mean_pct": mean(self.util),
                "gpu_util_max_pct": max(self.util) if self.util else None,
                "gpu_mem_max_mib": max(self.mem) if self.mem else None,
                "process_gpu_mem_max_mib": max(self.proc_mem) if self.proc_mem else None}


def json_lines(text):
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return found


def attached(spec):
    path, _, key = spec.rpartition(":")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        return {"error": f"{path}: {e}"}
    return doc.get(key) if key else doc


def wait(proc, t0, timeout):
    """Waits for `proc` (killed after `timeout` s, status 124) and returns its status, wall
    seconds, its own rusage (not the sampler's nvidia-smi calls), stdout and stderr."""
    texts = {}
    readers = [threading.Thread(target=lambda k, s: texts.__setitem__(k, s.read()), args=(k, s), daemon=True)
               for k, s in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = 124 if timed_out else os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    return proc.returncode, wall, usage, texts.get("out", ""), texts.get("err", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--nvidia-smi", default="nvidia-smi")
    ap.add_argument("--attach")
    ap.add_argument("--skip")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    record = {"name": args.name, "cmd": cmd}
    if args.skip:
        record.update(skipped=args.skip, rc=None)
        rc = 125
    else:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = Sampler(args.nvidia_smi, proc.pid)
        sampler.start()
        rc, wall, usage, out, err = wait(proc, t0, args.timeout)
        sampler.stop.set()
        sampler.join()
        record.update(rc=rc, wall_s=round(wall, 3), user_s=round(usage.ru_utime, 3),
                      sys_s=round(usage.ru_stime, 3), gpu=sampler.summary(),
                      json=json_lines(out), stdout_tail=out[-TAIL:], stderr_tail=err[-TAIL:])
        if args.attach:
            record["attached"] = attached(args.attach)
        status = "ok" if rc == 0 else f"exit {rc}"
        print(f"{args.name}: {status} in {wall:.1f} s", flush=True)
        if rc != 0:
            print(err[-1500:], file=sys.stderr, flush=True)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, f"{args.name}.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
