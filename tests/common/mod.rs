//! Helpers shared by the end-to-end tests: run the real binary and check its exit status, never
//! accepting a panic; small path and JSON conveniences. Each test crate uses a subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const MODEL: &str = "tests/fixtures/backbone/tiny.onnx";
pub const MODEL_NHWC: &str = "tests/fixtures/backbone/tiny_nhwc.onnx";
/// Conv(k4, s4, no padding) → GlobalAveragePool: the fixture for dense views.
pub const MODEL_GAP: &str = "tests/fixtures/backbone/tiny_gap.onnx";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `root()/tests/fixtures/REL`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The `pipeline` binary as a command run in `dir`, progress bars off; add args and envs to it.
pub fn command_in(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipeline"));
    cmd.current_dir(dir).env("PIPELINE_NO_PROGRESS", "1");
    cmd
}

/// Runs `pipeline ARGS` in the repository root, progress bars off.
pub fn pipeline(args: &[&str]) -> Output {
    command_in(&root())
        .args(args)
        .output()
        .expect("run pipeline")
}

/// Runs `pipeline ARGS` in the repository root with extra environment variables.
pub fn pipeline_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = command_in(&root());
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run pipeline")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success without a panic; returns (stdout, stderr).
pub fn succeeded(o: &Output) -> (String, String) {
    let err = text(&o.stderr);
    let out = text(&o.stdout);
    assert!(o.status.success(), "failed: {err}\nstdout: {out}");
    assert!(!err.contains("panicked"), "{err}");
    (out, err)
}

/// Asserts success without a panic; returns stdout.
pub fn stdout_of(o: &Output) -> String {
    succeeded(o).0
}

/// Asserts failure without a panic; returns stderr.
pub fn fails(o: &Output) -> String {
    let err = text(&o.stderr);
    assert!(!o.status.success(), "unexpectedly succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Exit 1, no panic, exactly one `error:` line (notes aside) containing every one of `needles`.
pub fn assert_clean_failure(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("note:")).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

/// A path as `&str` for an argument list.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

/// Reads and parses a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `pipeline extract --model MODEL --data DATA --out OUT EXTRA…` in the repository root.
pub fn extract_into(model: &str, data: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["extract", "--model", model, "--data", data, "--out", out];
    args.extend_from_slice(extra);
    pipeline(&args)
}

/// `pipeline train-head --features CACHE --out RUN EXTRA…` in the repository root.
pub fn train_head_into(cache: &str, run: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train-head", "--features", cache, "--out", run];
    args.extend_from_slice(extra);
    pipeline(&args)
}

/// Copies the tree at `from` to `to` (regular files and folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The shard file of `cache` whose name ends in `coords` (`train-p000-c00000`): shard names start
/// with their cache key, so tests find them by their coordinates.
pub fn shard_file(cache: &Path, coords: &str) -> PathBuf {
    let suffix = format!("-{coords}.safetensors");
    let m = json(&cache.join("manifest.json"));
    let key = m["key"].as_str().expect("manifest key");
    cache.join("shards").join(format!("{}{suffix}", &key[..16]))
}

/// `pipeline run --data DATA --model MODEL --workdir W --device cpu EXTRA…` on the tiny backbone.
pub fn run_into(data: &Path, workdir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--data",
        s(data),
        "--model",
        MODEL,
        "--workdir",
        s(workdir),
        "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    pipeline(&args)
}

/// Records the current BLAKE3 of the run's hashed files in its `metrics.json` after a test edited
/// them, so only the content checks stand between the edit and `eval`/`predict`.
pub fn rehash_run(run: &Path) {
    let mpath = run.join("metrics.json");
    let mut m = json(&mpath);
    for f in ["head.safetensors", "config.json"] {
        let bytes = std::fs::read(run.join(f)).unwrap();
        m["files"][f] = blake3::hash(&bytes).to_hex().to_string().into();
    }
    std::fs::write(&mpath, m.to_string()).unwrap();
}

/// `predict … --format json --topk 99` → path → probabilities by class.
pub fn predictions(
    args: &[&str],
) -> std::collections::HashMap<String, std::collections::HashMap<String, f64>> {
    let mut full = vec!["predict", "--format", "json", "--topk", "99"];
    full.extend_from_slice(args);
    let (out, _) = succeeded(&pipeline(&full));
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let probs = v["topk"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["class"].as_str().unwrap().to_owned(),
                        t["probability"].as_f64().unwrap(),
                    )
                })
                .collect();
            (v["path"].as_str().unwrap().to_owned(), probs)
        })
        .collect()
}

/// Whether a test's prerequisite `what` is present. Absent, the test cannot run its real check:
/// under `CI` (set by `.ci/run`, which installs every prerequisite) that is a failure naming `fix`;
/// elsewhere it says loudly that the check did NOT run, and the caller returns.
pub fn prerequisite(present: bool, what: &str, fix: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{what} is missing under CI, so this test cannot run its check; {fix}");
    }
    eprintln!("NOT RUN (this test passed without checking anything): {what} is missing; {fix}");
    false
}

/// The project's `.venv/bin/python` (numpy, onnx, onnxruntime) under [`prerequisite`]'s rule.
pub fn venv_python() -> Option<PathBuf> {
    let py = root().join(".venv/bin/python");
    prerequisite(py.exists(), ".venv/bin/python", "`just venv` makes it").then_some(py)
}

/// Runs `cmd` with a deadline of `secs` seconds, capturing its output: a hang is a failure, not
/// a stuck test suite.
pub fn run_within(mut cmd: Command, secs: u64) -> Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            panic!("{cmd:?} hung for {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
