//! Trust in `train-head` on a bad day: killed mid-checkpoint, given absurd sizes, out of disk,
//! with nobody reading its stdout. Each test fails without the guarantee it names.

mod common;

use common::{fails, json, succeeded, MODEL};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DATA: &str = "tests/fixtures/images/tree";

fn cache_in(t: &Path) -> PathBuf {
    let cache = t.join("cache");
    succeeded(&common::extract_into(
        MODEL,
        DATA,
        cache.to_str().unwrap(),
        &["--passes", "1", "--device", "cpu"],
    ));
    cache
}

/// `pipeline train-head --features CACHE --out RUN --hidden 8 EXTRA…` as a command.
fn train_cmd(cache: &Path, run: &Path, extra: &[&str]) -> Command {
    let mut c = common::command_in(&common::root());
    c.args(["train-head", "--features"])
        .arg(cache)
        .arg("--out")
        .arg(run);
    if !extra.contains(&"--resume") && !extra.contains(&"--hidden") {
        c.args(["--hidden", "8"]);
    }
    c.args(extra);
    c
}

fn train(cache: &Path, run: &Path, extra: &[&str]) -> std::process::Output {
    train_cmd(cache, run, extra).output().unwrap()
}

fn copy(run: &Path, file: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(run.join(file), to.join(file)).unwrap();
}

fn tensors(path: &Path) -> Vec<ndarray::ArrayD<f32>> {
    let r = pipeline::head::tensor_file::TensorReader::open(path).unwrap();
    ["0.weight", "0.bias", "3.weight", "3.bias"]
        .iter()
        .map(|n| r.array::<f32>(n).unwrap())
        .collect()
}

/// The run files a kill leaves when it lands between two of a checkpoint's writes: the
/// checkpoint (optimizer state) of epoch 3 beside the head and history of epoch 2, or the head
/// of epoch 3 beside the rest of epoch 2; no `metrics.json` (training had not finished).
#[test]
fn survives_a_kill_between_checkpoint_files_and_resumes_from_the_last_complete_one() {
    let t = tempfile::tempdir().unwrap();
    let cache = cache_in(t.path());
    let straight = t.path().join("straight");
    succeeded(&train(
        &cache,
        &straight,
        &["--epochs", "5", "--patience", "0"],
    ));
    let run = t.path().join("run");
    succeeded(&train(&cache, &run, &["--epochs", "2", "--patience", "0"]));
    let epoch2 = t.path().join("epoch2");
    for f in ["head.safetensors", "optimizer.safetensors", "history.json"] {
        copy(&run, f, &epoch2);
    }
    succeeded(&train(&cache, &run, &["--resume", "--epochs", "3"]));
    let epoch3 = t.path().join("epoch3");
    for f in ["head.safetensors", "optimizer.safetensors", "config.json"] {
        copy(&run, f, &epoch3);
    }
    let cases: [(&str, [&Path; 3]); 2] = [
        (
            "optimizer written, history not",
            [&epoch2, &epoch3, &epoch2],
        ),
        ("head written, optimizer not", [&epoch3, &epoch2, &epoch2]),
    ];
    for (what, [head, opt, hist]) in cases {
        let killed = t.path().join(what.replace([' ', ','], "_"));
        copy(&epoch3, "config.json", &killed);
        copy(head, "head.safetensors", &killed);
        copy(opt, "optimizer.safetensors", &killed);
        copy(hist, "history.json", &killed);
        let o = train(&cache, &killed, &["--resume", "--epochs", "5"]);
        let (out, _) = succeeded(&o);
        assert!(out.contains("best epoch"), "{what}: {out}");
        let history = json(&killed.join("history.json"));
        assert_eq!(history.as_array().unwrap().len(), 5, "{what}");
        assert_eq!(
            tensors(&killed.join("head.safetensors")),
            tensors(&straight.join("head.safetensors")),
            "{what}: the resumed run differs from an uninterrupted one"
        );
    }
    // Killed before its first checkpoint: only config.json; --resume trains from the start.
    let early = t.path().join("early");
    copy(&epoch3, "config.json", &early);
    let (out, _) = succeeded(&train(&cache, &early, &["--resume", "--epochs", "5"]));
    assert!(out.contains("training from the start"), "{out}");
    assert_eq!(
        tensors(&early.join("head.safetensors")),
        tensors(&straight.join("head.safetensors"))
    );
}

/// Real `kill -9`s at different moments of a long training; each `--resume` continues.
#[test]
fn survives_kill_9_at_any_moment_then_resume() {
    let t = tempfile::tempdir().unwrap();
    let cache = cache_in(t.path());
    let run = t.path().join("run");
    let long = ["--epochs", "100000", "--patience", "0"];
    let spawn = |extra: &[&str]| {
        train_cmd(&cache, &run, extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn(&long);
    for ms in [150u64, 40, 90, 10, 60, 25, 0] {
        std::thread::sleep(std::time::Duration::from_millis(ms + 250));
        // Still training (100000 epochs): a resume that failed has ended.
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!("ended with {status}: {}", common::text(&o.stderr));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        child = spawn(&["--resume"]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let o = train(&cache, &run, &["--resume", "--epochs", "1"]);
    let (out, _) = succeeded(&o);
    assert!(out.contains("nothing to train"), "{out}");
}

#[test]
fn rejects_absurd_sizes_up_front_without_a_run_folder() {
    let t = tempfile::tempdir().unwrap();
    let cache = cache_in(t.path());
    let run = t.path().join("run");
    let o = train(&cache, &run, &["--hidden", "4000000000"]);
    common::assert_clean_failure(
        &o,
        &["4000000000 hidden units", "needs about", "lower --hidden"],
    );
    assert!(!run.exists(), "a refused run left {}", run.display());
    let o = train(&cache, &run, &["--ensemble", "5", "--hidden", "400000000"]);
    common::assert_clean_failure(&o, &["400000000 hidden units (5 members"]);
    assert!(!run.exists());
    // A batch larger than the data is the whole data, not an allocation of its size.
    let o = train(
        &cache,
        &run,
        &["--batch", "18446744073709551615", "--epochs", "2"],
    );
    succeeded(&o);
}

/// Writes beyond `bytes` per file fail with EFBIG, as on a full disk (`RLIMIT_FSIZE`, no root
/// needed; SIGXFSZ ignored so the write returns the error instead of killing the process).
fn with_file_size_limit(cmd: &mut Command, bytes: u64) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[test]
fn survives_a_full_disk_without_leaving_temporary_files() {
    let t = tempfile::tempdir().unwrap();
    let cache = cache_in(t.path());
    let run = t.path().join("run");
    // config.json fits in 64 KiB, a head of 4096 hidden units does not.
    let mut c = train_cmd(&cache, &run, &["--hidden", "4096", "--epochs", "2"]);
    with_file_size_limit(&mut c, 64 << 10);
    let err = fails(&c.output().unwrap());
    assert!(
        err.contains("head.safetensors") && err.contains("File too large"),
        "{err}"
    );
    assert!(temps(&run).is_empty(), "left behind: {:?}", temps(&run));
    // It failed before its first checkpoint: no half run is left, and once space is freed the
    // same command completes.
    assert!(!run.exists(), "a failed run left {}", run.display());
    succeeded(&train(&cache, &run, &["--hidden", "4096", "--epochs", "2"]));
    assert!(run.join("metrics.json").is_file());
    // The same for the files eval writes beside the run.
    let mut c = common::command_in(&common::root());
    c.args(["eval", "--features"])
        .arg(&cache)
        .arg("--run")
        .arg(&run);
    with_file_size_limit(&mut c, 256);
    fails(&c.output().unwrap());
    for d in std::fs::read_dir(&run).unwrap().flatten() {
        assert!(temps(&d.path()).is_empty(), "{:?}", temps(&d.path()));
    }
}

/// `inspect --json` and `report` on a full disk: no temporary and no half-written file.
#[test]
fn survives_a_full_disk_in_inspect_and_report_without_leftovers() {
    let t = tempfile::tempdir().unwrap();
    let json_out = t.path().join("inspect.json");
    let mut c = common::command_in(&common::root());
    c.args(["inspect", "tests/fixtures/images/raw", "--json"])
        .arg(&json_out);
    with_file_size_limit(&mut c, 512);
    fails(&c.output().unwrap());
    let mut c = common::command_in(&common::root());
    c.arg("report").arg(t.path());
    with_file_size_limit(&mut c, 512);
    fails(&c.output().unwrap());
    let left: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn survives_a_closed_stdout_and_finishes_the_run() {
    let t = tempfile::tempdir().unwrap();
    let cache = cache_in(t.path());
    let run = t.path().join("run");
    let mut child = train_cmd(&cache, &run, &["--epochs", "4", "--patience", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = common::text(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(json(&run.join("history.json")).as_array().unwrap().len(), 4);
    assert!(run.join("metrics.json").is_file() && run.join("head.safetensors").is_file());
}
