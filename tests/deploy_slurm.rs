//! deploy/slurm/submit.sh against a stand-in `sbatch` that records its arguments: what it submits
//! for a whole array and for a rerun of chosen tasks (TASKS=), and what it refuses. The real
//! scheduler run is `just slurm-check` (root, daemons), which is not part of `cargo test`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A fake `sbatch` that appends its arguments (one call a line) to `calls` and prints job ids
/// 101, 102, … like `sbatch --parsable`.
fn fake_sbatch(bin: &Path, calls: &Path) {
    fs::create_dir_all(bin).unwrap();
    let script = format!(
        "#!/usr/bin/env bash\nn=$(wc -l 2>/dev/null <{calls} || echo 0)\necho \"$*\" >>{calls}\necho $((101 + n))\n",
        calls = calls.display()
    );
    let path = bin.join("sbatch");
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn submit(dir: &Path, envs: &[(&str, &str)]) -> (Output, Vec<String>) {
    let bin = dir.join("bin");
    let calls = dir.join("calls.txt");
    fake_sbatch(&bin, &calls);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(common::root().join("deploy/slurm/submit.sh"))
        .current_dir(dir)
        .env("PATH", path)
        .env("DATA", "d")
        .env("CACHE", "c")
        .env("MODEL", "m.onnx")
        .env("LOG_DIR", dir.join("logs"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let lines = fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    (out, lines)
}

#[test]
fn submits_the_whole_array_then_a_finaliser_after_it() {
    let t = tempfile::tempdir().unwrap();
    let (out, calls) = submit(t.path(), &[("N", "4")]);
    let (stdout, _) = common::succeeded(&out);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].contains("--array=0-3"), "{}", calls[0]);
    assert!(calls[0].contains("EXTRACT_MODE=shard"), "{}", calls[0]);
    assert!(
        calls[1].contains("--dependency=afterok:101"),
        "{}",
        calls[1]
    );
    assert!(calls[1].contains("EXTRACT_MODE=finalise"), "{}", calls[1]);
    assert!(stdout.contains("shard workers 0-3 of 4"), "{stdout}");
}

#[test]
fn tasks_resubmits_only_those_indices_and_keeps_the_shard_count() {
    let t = tempfile::tempdir().unwrap();
    let (out, calls) = submit(t.path(), &[("N", "4"), ("TASKS", "1,3")]);
    let (stdout, _) = common::succeeded(&out);
    assert!(calls[0].contains("--array=1,3 "), "{}", calls[0]);
    assert!(
        calls[1].contains("--dependency=afterok:101"),
        "{}",
        calls[1]
    );
    assert!(stdout.contains("shard workers 1,3 of 4"), "{stdout}");
}

#[test]
fn rejects_tasks_outside_the_shard_count() {
    let t = tempfile::tempdir().unwrap();
    let (out, calls) = submit(t.path(), &[("N", "4"), ("TASKS", "2,4")]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::text(&out.stderr);
    assert!(err.contains("TASKS index 4 is outside 0..3"), "{err}");
    assert!(calls.is_empty(), "nothing may be submitted: {calls:?}");
}

#[test]
fn rejects_tasks_that_are_not_indices() {
    let t = tempfile::tempdir().unwrap();
    let (out, calls) = submit(t.path(), &[("N", "4"), ("TASKS", "all")]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::text(&out.stderr);
    assert!(
        err.contains("TASKS must be array indices like 3 or 1,5-6, got 'all'"),
        "{err}"
    );
    assert!(calls.is_empty(), "nothing may be submitted: {calls:?}");
}

#[test]
fn rejects_an_unknown_local_cluster_command() {
    let out = Command::new("bash")
        .arg(common::root().join("deploy/slurm/local-cluster.sh"))
        .arg("start")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = common::text(&out.stderr);
    assert!(
        err.contains("usage:") && err.contains("up|down|status") && err.contains("'start'"),
        "{err}"
    );
}
