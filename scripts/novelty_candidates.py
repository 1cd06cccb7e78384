"""Candidate novelty scores on a feature cache, to choose the one `pipeline` computes (numpy;
not the tool's code path: the tool's own numbers come from benches/novelty_eval.rs).

Reads the deterministic view rows of every split of CACHE_DIR (a `pipeline run` of all classes),
averages them per image, and for DRAWS random draws of KNOWN classes scores the known classes'
test images and every image of the other classes against the known train+valid images:
cosine to the nearest class mean, kNN cosine (k = 1, 2, 3, 5), Mahalanobis with a shared
covariance shrunk towards its mean variance (0.5, 0.8, 0.95), and per-view agreement on the
nearest class mean. Thresholds: leave-one-out on train+valid at 5 %, as the tool does.
Usage: .venv/bin/python scripts/novelty_candidates.py CACHE_DIR [DRAWS] [KNOWN]"""
import json, struct, sys, os
import numpy as np

cache = sys.argv[1]
draws = int(sys.argv[2]) if len(sys.argv) > 2 else 10
nknown = int(sys.argv[3]) if len(sys.argv) > 3 else 8
man = json.load(open(os.path.join(cache, "manifest.json")))
spec = man["spec"]
classes = spec["classes"]


def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "U32": np.uint32}[v["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"])
    return out


# images: (split, idx) -> {"label", "views": [V, D]}
imgs = {}
for sh in man["shards"]:
    plan = next(p for p in spec["splits"] if p["name"] == sh["split"]) if any(p["name"] == sh["split"] for p in spec["splits"]) else None
    if plan is None:
        continue
    nv = len(plan.get("views", []))
    if sh["pass"] >= nv:
        continue
    t = read_st(os.path.join(cache, "shards", sh["file"]))
    for f, y, i in zip(t["features"].astype(np.float32), t["labels"], t["index"]):
        d = imgs.setdefault((sh["split"], int(i)), {"label": int(y), "views": {}})
        d["views"][sh["pass"]] = f
keys = sorted(imgs)
V = np.stack([np.stack([imgs[k]["views"][p] for p in sorted(imgs[k]["views"])]) for k in keys])  # [N,V,D]
Y = np.array([imgs[k]["label"] for k in keys])
S = np.array([k[0] for k in keys])
print("images", V.shape, "splits", {s: int((S == s).sum()) for s in set(S)}, file=sys.stderr)


def l2(x):
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def auroc(known, unknown):
    # P(score_unknown > score_known), ties half
    k = np.asarray(known)[:, None]
    u = np.asarray(unknown)[None, :]
    return float(((u > k).mean() + 0.5 * (u == k).mean()))


M = V.mean(1)  # per-image mean


def ref_scores(name, ref_x, ref_y, q, qv, loo=None):
    """Novelty of queries q (per-image means) [Q,D], views qv [Q,V,D], against reference."""
    if name.endswith("-sqrt"):
        name, q, ref_x = name[:-5], np.sqrt(np.maximum(q, 0)), np.sqrt(np.maximum(ref_x, 0))
    z = l2(q)
    R = l2(ref_x)
    if name.endswith("-center"):
        name, mu = name[:-7], R.mean(0)
        z, R = l2(z - mu), l2(R - mu)
    if name == "cos-mean":
        mus = np.stack([l2(R[ref_y == c].mean(0)) for c in np.unique(ref_y)])
        return 1 - (z @ mus.T).max(1)
    if name.startswith("knn"):
        k = int(name[3:])
        sims = z @ R.T
        if loo is not None:
            sims[np.arange(len(q)), loo] = -np.inf
        s = -np.sort(-sims, 1)[:, :k]
        return 1 - s.mean(1)
    if name.startswith("maha"):
        lam = float(name.split("-")[1])
        cs = np.unique(ref_y)
        mus = np.stack([R[ref_y == c].mean(0) for c in cs])
        Xc = R - mus[np.searchsorted(cs, ref_y)]
        cov = Xc.T @ Xc / len(R)
        tr = np.trace(cov) / cov.shape[0]
        cov = (1 - lam) * cov + lam * tr * np.eye(cov.shape[0])
        P = np.linalg.inv(cov)
        d = np.stack([np.einsum("nd,de,ne->n", z - m, P, z - m) for m in mus], 1)
        return d.min(1)
    raise ValueError(name)


def loo_scores(name, X, Y):
    out = np.zeros(len(X))
    if name.startswith("knn") and "-" not in name:
        return ref_scores(name, X, Y, X, None, loo=np.arange(len(X)))
    for i in range(len(X)):
        m = np.ones(len(X), bool)
        m[i] = False
        out[i] = ref_scores(name, X[m], Y[m], X[i:i + 1], None)[0]
    return out


def view_agree(ref_x, ref_y, qv):
    R = l2(ref_x)
    cs = np.unique(ref_y)
    mus = np.stack([l2(R[ref_y == c].mean(0)) for c in cs])
    zv = l2(qv)  # [Q,V,D]
    best = (zv @ mus.T).argmax(-1)  # [Q,V]
    mode = np.array([np.bincount(b).max() for b in best])
    return 1 - mode / qv.shape[1]


def threshold(scores, rate):
    # the tool's order statistic: at most `rate` of the left-out scores above it
    s = np.sort(scores)
    return s[max(int(np.ceil((1 - rate) * len(s) - 1e-9)), 1) - 1]


rng = np.random.default_rng(0)
names = ["cos-mean", "knn1", "knn2", "knn3", "knn5", "knn1-sqrt", "knn1-center", "maha-0.5", "maha-0.8",
         "maha-0.95", "agree"]
rates = [0.05, 0.1, 0.2]
sweep = {r: np.zeros(4) for r in rates}
res = {n: [] for n in names}
flag = {n: [] for n in names}
for d in range(draws):
    known = rng.choice(len(classes), nknown, replace=False)
    kmask = np.isin(Y, known)
    ref = kmask & np.isin(S, ["train", "valid"])
    qk = kmask & (S == "test")
    qu = ~kmask
    for n in names:
        if n == "agree":
            sk = view_agree(M[ref], Y[ref], V[qk])
            su = view_agree(M[ref], Y[ref], V[qu])
            thr = np.inf
        else:
            sk = ref_scores(n, M[ref], Y[ref], M[qk], V[qk])
            su = ref_scores(n, M[ref], Y[ref], M[qu], V[qu])
            loo = loo_scores(n, M[ref], Y[ref])
            thr = threshold(loo, 0.05)
            if n == "knn1":
                for r in rates:
                    t = threshold(loo, r)
                    sweep[r] += [(sk > t).sum(), len(sk), (su > t).sum(), len(su)]
        res[n].append(auroc(sk, su))
        flag[n].append(((sk > thr).mean(), (su > thr).mean()))
for n in names:
    f = np.array(flag[n])
    print(f"{n:10s} AUROC {np.mean(res[n]):.3f} ± {np.std(res[n]):.3f}  known flagged {f[:,0].mean():.2f}  unknown flagged {f[:,1].mean():.2f}")
for r in rates:
    a = sweep[r]
    print(f"knn1 at a left-out rate of {r:.0%}: known test flagged {a[0]:.0f}/{a[1]:.0f} = {a[0] / a[1]:.1%}, "
          f"unknown {a[2]:.0f}/{a[3]:.0f} = {a[2] / a[3]:.1%}")
