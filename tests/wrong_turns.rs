//! What a person gets after a wrong turn: a `--run` that names no directory is called that, with
//! the runs that do exist; a `train-head` that diverges says what to do and leaves no half run,
//! and an earlier complete run in its folder stays as it was.

mod common;

use common::{assert_clean_failure, s, succeeded, MODEL};
use std::path::{Path, PathBuf};

const DATA: &str = "tests/fixtures/images/tree";

/// A work directory `t/work/photo` with a cache and two trained runs under `runs/`.
fn work(t: &Path) -> (PathBuf, PathBuf) {
    let w = t.join("work/photo");
    let cache = w.join("features");
    succeeded(&common::extract_into(
        MODEL,
        DATA,
        s(&cache),
        &["--passes", "1", "--device", "cpu"],
    ));
    for head in ["auto", "mlp"] {
        let run = w.join("runs").join(head);
        succeeded(&common::train_head_into(
            s(&cache),
            s(&run),
            &["--epochs", "2", "--hidden", "8"],
        ));
    }
    (cache, w.join("runs"))
}

#[test]
fn rejects_a_run_directory_that_does_not_exist_naming_the_runs_nearby() {
    let t = tempfile::tempdir().unwrap();
    let (cache, runs) = work(t.path());
    let (auto, mlp) = (runs.join("auto"), runs.join("mlp"));
    let near = format!("runs that exist nearby: {}, {}", s(&auto), s(&mlp));
    let typo = runs.join("autoo");
    let wrong_parent = t.path().join("work/photo/run/auto");
    let out = t.path().join("c.onnx");
    for (args, dir) in [
        (vec!["predict", "--run", s(&typo), DATA], &typo),
        (
            vec!["eval", "--run", s(&wrong_parent), "--features", s(&cache)],
            &wrong_parent,
        ),
        (
            vec![
                "export",
                "--run",
                s(&typo),
                "--out",
                s(&out),
                "--model",
                MODEL,
            ],
            &typo,
        ),
    ] {
        let o = common::pipeline(&args);
        assert_clean_failure(
            &o,
            &[
                &format!("no run at {}: the directory does not exist", s(dir)),
                &near,
            ],
        );
        assert!(
            !common::text(&o.stderr).contains("train-head --out"),
            "a wrong diagnosis: {}",
            common::text(&o.stderr)
        );
    }
    let lost = t.path().join("elsewhere/x/y/z");
    assert_clean_failure(
        &common::pipeline(&["predict", "--run", s(&lost), DATA]),
        &["does not exist", "no trained run was found near it"],
    );
}

#[test]
fn a_diverged_train_head_says_what_to_do_and_leaves_no_half_run() {
    let t = tempfile::tempdir().unwrap();
    let (cache, runs) = work(t.path());
    let fresh = runs.join("new");
    let o = common::train_head_into(s(&cache), s(&fresh), &["--lr", "1e30"]);
    diverged(&o, &["lower --lr (now 1e30", "the default is 1e-3"]);
    assert!(!fresh.exists(), "a diverged run left {}", fresh.display());
    // Into an existing empty folder: the folder stays, with no run file in it.
    std::fs::create_dir_all(&fresh).unwrap();
    let o = common::train_head_into(s(&cache), s(&fresh), &["--lr", "1e30", "--head", "auto"]);
    diverged(&o, &[]);
    let left: Vec<String> = std::fs::read_dir(&fresh)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // The same command with the default learning rate then trains, no --force needed.
    succeeded(&common::train_head_into(
        s(&cache),
        s(&fresh),
        &["--epochs", "2"],
    ));
    // Over a complete run (--force): it stays as it was, byte for byte, and still predicts.
    let mlp = runs.join("mlp");
    let before = files(&mlp);
    let o = common::train_head_into(s(&cache), s(&mlp), &["--lr", "1e30", "--force"]);
    diverged(&o, &[]);
    assert_eq!(files(&mlp), before, "the earlier run changed");
    succeeded(&common::pipeline(&["predict", "--run", s(&mlp), DATA]));
}

/// Exit 1, no panic, the last line the divergence error with `needles`.
fn diverged(o: &std::process::Output, needles: &[&str]) {
    let err = common::fails(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: training diverged"), "{err}");
    for n in needles {
        assert!(last.contains(n), "missing {n:?} in: {err}");
    }
}

/// Every file of a folder (not the lock) with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && e.file_name() != ".lock")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}
