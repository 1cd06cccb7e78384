//! Trust under a hostile environment: a closed stdout, special files and link loops in the input,
//! names that CSV and JSON must quote, a full disk and a read-only target.

mod common;

use common::{fails, root, succeeded, MODEL};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DATA: &str = "tests/fixtures/images/tree";
const IMAGE: &str = "tests/fixtures/images/tree/test/cat/cat_t0.jpg";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipeline"));
    c.current_dir(root()).env("PIPELINE_NO_PROGRESS", "1");
    c
}

fn trained_run(t: &Path) -> PathBuf {
    let (cache, run) = (t.join("cache"), t.join("run"));
    succeeded(&common::extract_into(
        MODEL,
        DATA,
        cache.to_str().unwrap(),
        &["--passes", "1", "--device", "cpu"],
    ));
    succeeded(&common::train_head_into(
        cache.to_str().unwrap(),
        run.to_str().unwrap(),
        &["--epochs", "2", "--hidden", "8"],
    ));
    run
}

/// Runs with stdout already closed by the reader, as `| head` does.
fn closed_stdout(args: &[&str]) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked")
            && !err.contains("failed printing")
            && !err.contains("Broken pipe"),
        "{args:?}: {err}"
    );
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{args:?}: {:?} {err}",
        o.status
    );
}

#[test]
fn survives_a_closed_stdout() {
    let t = tempfile::tempdir().unwrap();
    let run = trained_run(t.path());
    let r = run.to_str().unwrap();
    closed_stdout(&["info", "--model", MODEL]);
    closed_stdout(&[
        "predict", "--model", MODEL, "--run", r, "--device", "cpu", DATA,
    ]);
    closed_stdout(&[
        "cache-info",
        t.path().join("cache").to_str().unwrap(),
        "--json",
    ]);
}

/// A folder of images named to trip CSV and JSON writers, plus a FIFO, a socket and a link loop.
fn hostile_folder(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let names = [
        "plain.jpg",
        "a,b.jpg",
        "q\"uote.jpg",
        "new\nline.jpg",
        "tab\there.jpg",
    ];
    for n in names {
        std::fs::copy(root().join(IMAGE), dir.join(n)).unwrap();
    }
    let fifo = dir.join("pipe.jpg");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("sock.jpg")).unwrap();
    std::mem::forget(_sock);
    std::os::unix::fs::symlink(".", dir.join("loop")).unwrap();
    let mut v: Vec<String> = names
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn survives_special_files_link_loops_and_names_csv_and_json_must_quote() {
    let t = tempfile::tempdir().unwrap();
    let run = trained_run(t.path());
    let dir = t.path().join("in");
    let want = hostile_folder(&dir);
    let predict = |format: &str| {
        let mut c = bin();
        c.args([
            "predict",
            "--model",
            MODEL,
            "--run",
            run.to_str().unwrap(),
            "--device",
            "cpu",
            "--topk",
            "1",
            "--format",
            format,
            dir.to_str().unwrap(),
        ]);
        let o = common::run_within(c, 120);
        succeeded(&o).0
    };
    let json = predict("json");
    let mut paths: Vec<String> = json
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["path"].as_str().unwrap().to_string()
        })
        .collect();
    paths.sort();
    assert_eq!(paths, want, "each file once, FIFO and socket skipped");
    let csv = predict("csv");
    let py = root().join(".venv/bin/python");
    if !py.exists() {
        eprintln!("skipping the Python csv round trip: no .venv");
        return;
    }
    let out_file = t.path().join("p.csv");
    std::fs::write(&out_file, &csv).unwrap();
    let o = Command::new(py)
        .args([
            "-c",
            "import csv,json,sys; r=list(csv.reader(open(sys.argv[1],newline=''))); print(json.dumps(sorted(x[0] for x in r[1:])))",
            out_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let back: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(back, want, "CSV did not round-trip through Python's csv");
}

/// Mounts a tmpfs of `size` at `dir` (root only); `None` when mounting is not allowed here.
fn tmpfs(dir: &Path, size: &str) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(())
}

fn remount(dir: &Path, opts: &str) {
    let s = Command::new("mount")
        .args(["-o", &format!("remount,{opts}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(s.success());
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn extract_cmd(out: &Path) -> Command {
    let mut c = bin();
    c.args([
        "extract",
        "--model",
        MODEL,
        "--data",
        DATA,
        "--out",
        out.to_str().unwrap(),
        "--passes",
        "2",
        "--device",
        "cpu",
        "--chunk-size",
        "2",
    ]);
    c
}

fn features(dir: &Path) -> Vec<ndarray::Array2<f32>> {
    let c = pipeline::cache::FeatureCache::open(dir).unwrap();
    [("train", 0), ("train", 1), ("valid", 0), ("test", 0)]
        .iter()
        .map(|(s, p)| c.load(s, *p).unwrap().features)
        .collect()
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for d in [dir.to_path_buf(), dir.join("shards")] {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.ends_with(".tmp") {
                v.push(n);
            }
        }
    }
    v
}

#[test]
fn survives_a_full_disk_and_completes_identically_after_space_is_freed() {
    let t = tempfile::tempdir().unwrap();
    let reference = t.path().join("ref");
    succeeded(&common::run_within(extract_cmd(&reference), 120));
    let mnt = t.path().join("small");
    if tmpfs(&mnt, "16k").is_none() {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Unmount(mnt.clone());
    let out = mnt.join("cache");
    let err = fails(&common::run_within(extract_cmd(&out), 60));
    assert!(err.contains("No space left"), "{err}");
    assert!(
        err.contains(mnt.to_str().unwrap()),
        "error must name the path: {err}"
    );
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    remount(&mnt, "size=50m");
    succeeded(&common::run_within(extract_cmd(&out), 120));
    assert_eq!(features(&reference), features(&out));
}

#[test]
fn rejects_a_read_only_target_in_one_line() {
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("ro");
    if tmpfs(&mnt, "1m").is_none() {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Unmount(mnt.clone());
    remount(&mnt, "ro");
    let out = mnt.join("cache");
    let err = fails(&common::run_within(extract_cmd(&out), 60));
    assert!(
        err.contains(out.to_str().unwrap()) && err.contains("Read-only"),
        "{err}"
    );
}
