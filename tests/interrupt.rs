//! Ctrl-C during `extract` and `run`: the rows computed so far are kept (saved every
//! `PIPELINE_FLUSH_SECS`, here after every backbone call), one line says what was kept and the
//! command that resumes, and the resume computes only the rest — into the very cache a
//! from-scratch extract makes.

mod common;

use common::{json, s, succeeded, text, MODEL};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TREE: &str = "tests/fixtures/images/tree";

fn extract_args(out: &Path) -> Vec<&str> {
    vec![
        "extract",
        "--model",
        MODEL,
        "--data",
        TREE,
        "--out",
        s(out),
        "--device",
        "cpu",
        "--passes",
        "5",
        "--batch",
        "2",
        "--chunk-size",
        "100",
    ]
}

/// Starts `pipeline ARGS` slowed down (150 ms a backbone call, rows saved after each), sends it
/// SIGINT once `partial` holds a saved segment, and returns its output.
fn interrupted(args: &[&str], partial: &Path) -> Output {
    let mut cmd: Command = common::command_in(&common::root());
    cmd.args(args)
        .env("PIPELINE_FLUSH_SECS", "0")
        .env("PIPELINE_EXTRACT_DELAY_MS", "150")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let t0 = Instant::now();
    let saved = || {
        std::fs::read_dir(partial)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    };
    while saved() == 0 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(400));
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    child.wait_with_output().unwrap()
}

/// The numbers of `interrupted: K of T views are kept … (C computed by this extract) … the
/// other L)`.
fn kept_line(err: &str) -> (u64, u64, u64) {
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("no interrupted line in: {err}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (kept, total) = (nums[0], nums[1]);
    (kept, total, *nums.last().unwrap())
}

/// `(computed, reused)` views from the extract summary line.
fn summary_counts(err: &str) -> (u64, u64) {
    let line = err
        .lines()
        .find(|l| l.starts_with("extracted "))
        .unwrap_or_else(|| panic!("no summary in: {err}"));
    let after = |word: &str| -> u64 {
        let rest = &line[line.find(word).unwrap() + word.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (after("computed "), after("reused "))
}

/// Stdout and stderr of a successful command.
fn both(o: &Output) -> String {
    let (out, err) = succeeded(o);
    out + &err
}

#[test]
fn ctrl_c_keeps_computed_rows_and_the_resume_computes_only_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let (cache, scratch) = (t.path().join("cache"), t.path().join("scratch"));
    let o = interrupted(&extract_args(&cache), &cache.join("partial"));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (kept, total, left) = kept_line(&err);
    assert!(kept > 0 && kept < total, "{err}");
    assert_eq!(kept + left, total, "{err}");
    assert!(
        err.contains(&format!(
            "run the same command again: {}",
            env!("CARGO_BIN_EXE_pipeline")
        )) && err.contains(&format!("--out {}", s(&cache))),
        "{err}"
    );
    assert!(!cache.join("manifest.json").exists());

    let resumed = both(&common::pipeline(&extract_args(&cache)));
    let (computed, reused) = summary_counts(&resumed);
    assert!(
        resumed.contains("resuming the interrupted extract"),
        "{resumed}"
    );
    assert_eq!(reused, kept, "every kept view is reused: {resumed}");
    assert!(
        computed <= left,
        "computed {computed} > the {left} announced"
    );
    assert!(!cache.join("partial").exists(), "partial rows left behind");

    let fresh = both(&common::pipeline(&extract_args(&scratch)));
    let (all, none) = summary_counts(&fresh);
    assert_eq!((computed + reused, none), (all, 0), "{fresh}");
    // The resumed cache is the from-scratch one: same manifest entries, same shard bytes.
    let (a, b) = (
        json(&cache.join("manifest.json")),
        json(&scratch.join("manifest.json")),
    );
    for field in ["key", "shards", "skipped"] {
        assert_eq!(a[field], b[field], "manifest {field} differs");
    }
}

#[test]
fn a_damaged_partial_segment_is_recomputed_not_trusted() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let o = interrupted(&extract_args(&cache), &cache.join("partial"));
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let seg = std::fs::read_dir(cache.join("partial"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let err = both(&common::pipeline(&extract_args(&cache)));
    assert!(
        err.contains("not reusing the partial rows of") && err.contains("content hash"),
        "{err}"
    );
    let scratch = t.path().join("scratch");
    succeeded(&common::pipeline(&extract_args(&scratch)));
    assert_eq!(
        json(&cache.join("manifest.json"))["shards"],
        json(&scratch.join("manifest.json"))["shards"]
    );
}

#[test]
fn ctrl_c_during_run_names_the_run_command_to_resume() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let args = [
        "run",
        "--data",
        "tests/fixtures/images/raw",
        "--model",
        MODEL,
        "--workdir",
        s(&w),
        "--device",
        "cpu",
        "--batch",
        "1",
    ];
    let o = interrupted(&args, &w.join("features/partial"));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("interrupted: ") && last.contains(" run --data tests/fixtures/images/raw"),
        "{err}"
    );
    let again = both(&common::pipeline(&args));
    assert!(
        again.contains("reusing") && again.contains("the interrupted extract kept"),
        "{again}"
    );
}
