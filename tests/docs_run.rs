//! Docs that run: docs/shipping.md's Python and Rust snippets, run on the exported classifier
//! of a fixture run, give what `predict` gives on a transparent PNG and an EXIF-rotated JPEG
//! (fixtures of `tests/fixtures/images/make_fixtures.py`); the README's `inspect` example is
//! what `inspect` prints.
//!
//! The Python snippet needs numpy, onnxruntime and pillow: `PIPELINE_PYTHON`, else `.venv` of
//! `just venv`. Without them the test fails, naming the fix; `PIPELINE_SKIP_PYTHON_DOCS=1` skips
//! the Python half explicitly.

mod common;

#[allow(dead_code)]
#[path = "../examples/classify.rs"]
mod classify;

use common::{predictions, s, succeeded, MODEL};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Left half fully transparent over a non-white picture: dropping alpha shows the picture,
/// compositing shows white.
const ALPHA_PNG: &str = "tests/fixtures/images/tree/train/dog/dog_rgba.png";
/// Stored landscape, EXIF orientation 6 (rotate 90° clockwise to view).
const EXIF_JPEG: &str = "tests/fixtures/images/tree/train/cat/cat_exif6.jpg";
/// Same classifier file, same pixels: only float order differs. JPEG decoders (PIL's
/// libjpeg-turbo, the `image` crate's) may differ by a grey level on some pixels.
const SAME_FILE: f64 = 1e-3;
/// The exported graph against `predict`'s Rust transform (docs/shipping.md: ≤ 4e-4 on fixtures).
const EXPORT_VS_PREDICT: f64 = 2e-3;

/// A trained fixture run and its exported classifier.
fn exported(t: &Path) -> (PathBuf, PathBuf) {
    let (cache, run, onnx) = (t.join("cache"), t.join("run"), t.join("classifier.onnx"));
    succeeded(&common::extract_into(
        MODEL,
        "tests/fixtures/images/tree",
        s(&cache),
        &["--passes", "1", "--device", "cpu"],
    ));
    succeeded(&common::train_head_into(
        s(&cache),
        s(&run),
        &["--head", "logistic"],
    ));
    succeeded(&common::pipeline(&[
        "export",
        "--run",
        s(&run),
        "--out",
        s(&onnx),
        "--model",
        MODEL,
    ]));
    (run, onnx)
}

/// The fenced block of `lang` that follows `after` in docs/shipping.md.
fn snippet(after: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(common::root().join("docs/shipping.md")).unwrap();
    let from = doc
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in docs/shipping.md"));
    let fence = format!("```{lang}\n");
    let start = from + doc[from..].find(&fence).expect("code block") + fence.len();
    let len = doc[start..].find("```").expect("closing fence");
    doc[start..start + len].to_string()
}

/// `(top class, its probability)` of `predict … --format json` on `image`.
fn predicted(args: &[&str], image: &str) -> (String, f64) {
    let mut full = args.to_vec();
    full.push(image);
    let all = predictions(&full);
    let probs = all.values().next().expect("one image");
    let (c, p) = probs
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("classes");
    (c.clone(), *p)
}

/// A Python with numpy, onnxruntime and PIL, or `None` when explicitly skipped.
fn python() -> Option<String> {
    if std::env::var_os("PIPELINE_SKIP_PYTHON_DOCS").is_some_and(|v| v == "1") {
        eprintln!("PIPELINE_SKIP_PYTHON_DOCS=1: the Python snippet of docs/shipping.md is not run");
        return None;
    }
    let venv = common::root().join(".venv/bin/python");
    let py =
        std::env::var("PIPELINE_PYTHON").unwrap_or_else(|_| venv.to_string_lossy().into_owned());
    let ok = Command::new(&py)
        .args(["-c", "import numpy, onnxruntime, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "`{py} -c 'import numpy, onnxruntime, PIL'` failed: run `just venv` (or set PIPELINE_PYTHON to a Python with them) to check the Python snippet of docs/shipping.md; PIPELINE_SKIP_PYTHON_DOCS=1 skips it explicitly");
    Some(py)
}

fn close(what: &str, (c1, p1): &(String, f64), (c2, p2): &(String, f64), tol: f64) {
    assert!(
        c1 == c2 && (p1 - p2).abs() <= tol,
        "{what}: {c1} {p1:.6} vs {c2} {p2:.6} (tolerance {tol})"
    );
}

#[test]
fn shipping_snippets_match_predict_on_alpha_and_exif_images() {
    let t = tempfile::tempdir().unwrap();
    let (run, onnx) = exported(t.path());
    let py = python();
    let env = pipeline::backbone::ort_lib::init(None)
        .unwrap()
        .environment();
    for image in [ALPHA_PNG, EXIF_JPEG] {
        let by_run = predicted(&["--run", s(&run), "--model", MODEL], image);
        let by_file = predicted(&["--classifier", s(&onnx)], image);
        close(
            &format!("{image}: export vs predict"),
            &by_file,
            &by_run,
            EXPORT_VS_PREDICT,
        );
        let (c, p) = classify::classify(env, s(&onnx), image).unwrap();
        close(
            &format!("{image}: Rust snippet"),
            &(c, p as f64),
            &by_file,
            SAME_FILE,
        );
        let Some(py) = &py else { continue };
        let code = snippet("From Python", "python")
            .replace("\"classifier.onnx\"", &format!("{:?}", s(&onnx)))
            .replace("\"cat.jpg\"", &format!("{image:?}"));
        let o = Command::new(py)
            .current_dir(common::root())
            .args(["-c", &code])
            .output()
            .unwrap();
        let out = succeeded(&o).0;
        let (c, p) = out.trim().rsplit_once(' ').expect("`class probability`");
        let got = (c.to_string(), p.parse::<f64>().unwrap());
        close(
            &format!("{image}: Python snippet"),
            &got,
            &by_file,
            SAME_FILE,
        );
    }
}

#[test]
fn the_rust_snippet_is_examples_classify() {
    let example = std::fs::read_to_string(common::root().join("examples/classify.rs")).unwrap();
    assert_eq!(snippet("From Rust", "rust"), example);
}

#[test]
fn the_readme_inspect_example_is_what_inspect_prints() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let from = readme
        .find("**Look at the data**")
        .expect("the inspect paragraph");
    let start = from + readme[from..].find("```\n").unwrap() + 4;
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let mut lines = block.lines();
    let cmd = lines
        .next()
        .unwrap()
        .strip_prefix("$ pipeline ")
        .expect("a command line");
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let (out, err) = succeeded(&common::pipeline(&args));
    let printed = out + &err;
    let printed: Vec<&str> = printed.lines().collect();
    // `…` allows a gap; other lines follow each other as printed.
    let (mut at, mut gap) = (0, false);
    for want in lines {
        if want == "…" {
            gap = true;
            continue;
        }
        let found = if gap {
            printed[at..]
                .iter()
                .position(|l| *l == want)
                .map(|k| at + k)
        } else {
            (printed.get(at) == Some(&want)).then_some(at)
        };
        let Some(k) = found else {
            panic!(
                "README line {want:?} is not what `pipeline {cmd}` prints next:\n{}",
                printed[at..].join("\n")
            );
        };
        (at, gap) = (k + 1, false);
    }
}
