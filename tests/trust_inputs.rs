//! Trust in what the tool reads: special files in place of its files are refused at once (never
//! a hang), link loops in a dataset are named and their images used once, and `cache-info`
//! names every missing or damaged shard.

mod common;

use common::{fails, json, shard_file, succeeded, MODEL};
use std::path::{Path, PathBuf};
use std::process::Command;

const DATA: &str = "tests/fixtures/images/tree";

fn cmd(args: &[&str]) -> Command {
    let mut c = common::command_in(&common::root());
    c.args(args);
    c
}

fn trained(t: &Path) -> (PathBuf, PathBuf) {
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
    (cache, run)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// Replaces `path` by a link to `/dev/zero` (`fifo`: by a FIFO), runs `args`, restores it; the
/// command must fail within seconds naming the file and what it is.
fn refused_in_place_of(path: &Path, fifo: bool, args: &[&str]) {
    let keep = path.with_extension("kept");
    std::fs::rename(path, &keep).unwrap();
    if fifo {
        mkfifo(path);
    } else {
        std::os::unix::fs::symlink("/dev/zero", path).unwrap();
    }
    let err = fails(&common::run_within(cmd(args), 30));
    let kind = if fifo { "FIFO" } else { "character device" };
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        err.contains(name) && err.contains(kind) && err.contains("not a regular file"),
        "{args:?} with {name} as a {kind}: {err}"
    );
    std::fs::remove_file(path).unwrap();
    std::fs::rename(&keep, path).unwrap();
}

#[test]
fn rejects_special_files_in_place_of_the_files_it_reads() {
    let t = tempfile::tempdir().unwrap();
    let (cache, run) = trained(t.path());
    let (c, r) = (cache.to_str().unwrap(), run.to_str().unwrap());
    let eval = ["eval", "--features", c, "--run", r, "--split", "valid"];
    for f in ["head.safetensors", "config.json", "metrics.json"] {
        for fifo in [false, true] {
            refused_in_place_of(&run.join(f), fifo, &eval);
        }
    }
    let resume = ["train-head", "--features", c, "--out", r, "--resume"];
    refused_in_place_of(&run.join("optimizer.safetensors"), true, &resume);
    refused_in_place_of(&run.join("config.json"), false, &resume);
    refused_in_place_of(&cache.join("manifest.json"), false, &eval);
    refused_in_place_of(&shard_file(&cache, "valid-p000-c00000"), true, &eval);
    refused_in_place_of(
        &shard_file(&cache, "train-p000-c00000"),
        false,
        &["cache-info", c],
    );
    // A backbone, its sidecar, an exported classifier.
    let model = t.path().join("m.onnx");
    std::fs::copy(common::root().join(MODEL), &model).unwrap();
    let sidecar = common::root().join(MODEL).with_extension("json");
    std::fs::copy(&sidecar, model.with_extension("json")).unwrap();
    let m = model.to_str().unwrap();
    refused_in_place_of(
        &model.with_extension("json"),
        false,
        &["info", "--model", m],
    );
    refused_in_place_of(&model, true, &["info", "--model", m]);
    let image = "tests/fixtures/images/tree/test/cat/cat_t0.jpg";
    let predict = ["predict", "--classifier", m, image];
    refused_in_place_of(&model, false, &predict);
    // An image named on the command line.
    let img = t.path().join("x.jpg");
    std::fs::copy(common::root().join(image), &img).unwrap();
    let i = img.to_str().unwrap();
    let o = common::run_within(
        cmd(&[
            "predict", "--model", MODEL, "--run", r, "--device", "cpu", i,
        ]),
        30,
    );
    succeeded(&o);
    let o = {
        std::fs::remove_file(&img).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &img).unwrap();
        common::run_within(
            cmd(&[
                "predict", "--model", MODEL, "--run", r, "--device", "cpu", i,
            ]),
            30,
        )
    };
    let err = fails(&o);
    assert!(
        err.contains("x.jpg") && err.contains("not a regular file"),
        "{err}"
    );
}

/// A copy of the raw fixture tree with a `loop -> .` link in a class folder and a `up -> ..`
/// link (back to the root, through every class) in another.
fn looped_raw_tree(t: &Path) -> PathBuf {
    let raw = t.join("raw");
    common::copy_tree(&common::fixture("images/raw"), &raw);
    std::os::unix::fs::symlink(".", raw.join("alpha/loop")).unwrap();
    std::os::unix::fs::symlink("..", raw.join("beta/up")).unwrap();
    raw
}

#[test]
fn survives_link_loops_in_class_folders_using_each_image_once() {
    let t = tempfile::tempdir().unwrap();
    let plain = common::fixture("images/raw");
    let raw = looped_raw_tree(t.path());
    let count = |tree: &Path, name: &str| {
        let report = t.path().join(format!("{name}.json"));
        let (_, err) = succeeded(&common::run_within(
            cmd(&[
                "inspect",
                tree.to_str().unwrap(),
                "--json",
                report.to_str().unwrap(),
            ]),
            60,
        ));
        (json(&report)["images"].clone(), err)
    };
    let (want, _) = count(&plain, "plain");
    let (found, err) = count(&raw, "looped");
    assert_eq!(found, want, "inspect counted images through a loop");
    assert!(
        err.contains("alpha/loop") && err.contains("beta/up"),
        "{err}"
    );
    assert!(err.contains("symbolic-link loop"), "{err}");
    let split = |tree: &Path, name: &str| {
        let out = t.path().join(name);
        let (_, err) = succeeded(&common::run_within(
            cmd(&[
                "split",
                tree.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--mode",
                "copy",
            ]),
            60,
        ));
        (json(&out.join("split.json"))["files"].clone(), err)
    };
    let (want, _) = split(&plain, "split-plain");
    let (files, err) = split(&raw, "split-looped");
    assert!(err.contains("alpha/loop"), "{err}");
    assert_eq!(files, want, "split multiplied images");
    // predict walks folders the same way.
    let (cache, run) = trained(t.path());
    let _ = cache;
    let o = common::run_within(
        cmd(&[
            "predict",
            "--model",
            MODEL,
            "--run",
            run.to_str().unwrap(),
            "--device",
            "cpu",
            "--format",
            "json",
            raw.join("beta").to_str().unwrap(),
        ]),
        120,
    );
    let (out, err) = succeeded(&o);
    assert_eq!(out.lines().count(), 10, "beta's own images only: {out}");
    assert!(err.contains("beta/up"), "{err}");
}

#[test]
fn rejects_missing_truncated_emptied_or_flipped_shards_in_cache_info() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    succeeded(&common::extract_into(
        MODEL,
        DATA,
        cache.to_str().unwrap(),
        &["--passes", "2", "--device", "cpu"],
    ));
    let c = cache.to_str().unwrap();
    let (out, _) = succeeded(&common::pipeline(&["cache-info", c]));
    assert!(out.contains("verified") && out.contains("BLAKE3"), "{out}");
    let names = [
        "train-p000-c00000",
        "train-p001-c00000",
        "valid-p000-c00000",
        "test-p000-c00000",
    ];
    let [missing, truncated, emptied, flipped] = names.map(|n| shard_file(&cache, n));
    std::fs::remove_file(&missing).unwrap();
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    std::fs::write(&emptied, b"").unwrap();
    let mut bytes = std::fs::read(&flipped).unwrap();
    let n = bytes.len() - 3;
    bytes[n] ^= 0x10;
    std::fs::write(&flipped, &bytes).unwrap();
    let file = |p: &PathBuf| p.file_name().unwrap().to_str().unwrap().to_string();
    for quick in [false, true] {
        let mut args = vec!["cache-info", c];
        if quick {
            args.push("--quick");
        }
        let o = common::pipeline(&args);
        let err = fails(&o);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            err.contains(&file(&missing)) && err.contains("missing"),
            "{err}"
        );
        assert!(
            err.contains(&file(&truncated)) && err.contains(&file(&emptied)),
            "{err}"
        );
        let bad = if quick {
            "3 of 5 shards"
        } else {
            "4 of 5 shards"
        };
        assert!(err.contains(bad), "{err}");
        assert_eq!(err.contains(&file(&flipped)), !quick, "{err}");
        assert!(common::text(&o.stdout).is_empty(), "printed as if fine");
    }
}
